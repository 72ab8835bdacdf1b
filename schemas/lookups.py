"""The lookup system (the seed's lookup types, lookup values and provider rows)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas._base import WireModel
from schemas.notification import Channel

__all__ = ["Lookup", "LookupType", "ProviderSeed"]


class LookupType(WireModel):
    type_name: str
    description: str


class Lookup(WireModel):
    type: str
    lookup_code: str
    lookup_value: str
    order_index: int
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def channel(self) -> Channel:
        return Channel(self.metadata["channel"])


class ProviderSeed(WireModel):
    """A provider row: the system-wide configuration of one provider."""

    name: str
    channel: Channel
    provider_type: str
    display_name: str
    is_default: bool
    is_active: bool
    priority: int
    configuration: dict[str, Any] = Field(default_factory=dict)
    description: str | None = None
