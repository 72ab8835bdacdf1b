"""Shared base for every wire model: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

__all__ = ["TENANT_ID_PATTERN", "TenantId", "WireModel", "is_tenant_id"]

#: Tenant ids end up in Redis keys, Kafka keys and session names: keep them plain.
TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

_TENANT_ID_RE = re.compile(TENANT_ID_PATTERN)


def is_tenant_id(value: object) -> bool:
    """``value`` is a valid tenant id, matched in full.

    ``re.match`` with the pattern's ``$`` would also accept a trailing newline
    (``"acme\\n"``); pydantic's Rust regex and JSON Schema's ECMA regex do not. Every
    Python check goes through this function so that all three agree.
    """
    return isinstance(value, str) and _TENANT_ID_RE.fullmatch(value) is not None


TenantId = Annotated[str, StringConstraints(pattern=TENANT_ID_PATTERN)]


class WireModel(BaseModel):
    """Base of every model that crosses a process boundary.

    Field names are snake_case in Python and camelCase in JSON; both spellings are
    accepted on input so that Python callers can construct models naturally.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        ser_json_timedelta="float",
    )

    def to_json(self) -> bytes:
        """Serialize with camelCase aliases, omitting unset optional fields' ``None``."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()
