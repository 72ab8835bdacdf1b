"""Herald's wire contract: every model that crosses a process boundary.

These pydantic models are the single source of truth; ``herald schemas`` exports
their JSON Schema and docs/topics-and-schemas.md is generated from them. The providers'
credentials models live in their packages; ``schemas.credentials`` (not imported here, to
keep ``providers`` -> ``schemas`` free of cycles) gathers them into one union.
"""

from __future__ import annotations

from typing import Any

from schemas._base import TENANT_ID_PATTERN, WireModel
from schemas.credentials_base import BaseCredentials
from schemas.dlq import DLQ_HEADER_PREFIX, DeadLetterInfo, DeadLetterReason
from schemas.integration import SYSTEM_TENANT, IntegrationSummary
from schemas.lookups import Lookup, LookupType, ProviderSeed
from schemas.notification import (
    Channel,
    Contact,
    Content,
    Location,
    Media,
    NotificationRequest,
    Recipient,
)
from schemas.settings import Settings
from schemas.status import ErrorCode, ErrorInfo, Status, StatusEvent

__all__ = [
    "DLQ_HEADER_PREFIX",
    "SYSTEM_TENANT",
    "TENANT_ID_PATTERN",
    "BaseCredentials",
    "Channel",
    "Contact",
    "Content",
    "DeadLetterInfo",
    "DeadLetterReason",
    "ErrorCode",
    "ErrorInfo",
    "IntegrationSummary",
    "Location",
    "Lookup",
    "LookupType",
    "Media",
    "NotificationRequest",
    "ProviderSeed",
    "Recipient",
    "Settings",
    "Status",
    "StatusEvent",
    "WireModel",
]

#: Names that live in ``schemas.credentials`` (built from the provider registry), still
#: importable from here for code written before the move. Resolved on first use, so that
#: importing ``schemas`` never imports ``providers`` (no import cycle).
_FROM_CREDENTIALS = frozenset(
    {
        "CREDENTIALS_ADAPTER",
        "ProviderCredentials",
        "WPPConnectCredentials",
        "WhatsAppBusinessCredentials",
    }
)


def __getattr__(name: str) -> Any:
    if name in _FROM_CREDENTIALS:
        from schemas import credentials

        return getattr(credentials, name)
    raise AttributeError(f"module 'schemas' has no attribute {name!r}")
