"""Per-tenant provider integrations (credentials are encrypted at rest)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas._base import WireModel
from schemas.notification import Channel
from schemas.status import utcnow

__all__ = ["INSTANCE_SEPARATOR", "SYSTEM_TENANT", "IntegrationSummary"]

#: Integrations stored under this id are the system defaults used for any tenant.
SYSTEM_TENANT = "_system"
#: Between a provider code and an instance name in an integration's ``name``
#: (``wppconnect@sales``); tenant ids and provider codes never contain it.
INSTANCE_SEPARATOR = "@"


class IntegrationSummary(WireModel):
    """What may be shown about an integration: never its credentials."""

    tenant_id: str
    provider: str
    name: str | None = Field(
        default=None,
        description=(
            "the integration's name within the tenant: the provider code, or "
            "`provider@sessionName` for a provider's second and later sessions (wppconnect)"
        ),
    )
    session_name: str | None = Field(
        default=None,
        description="wppconnect: the session this integration runs (a request's `sender`)",
    )
    channel: Channel
    is_default: bool = False
    priority: int = 100
    is_active: bool = True
    key_id: str = Field(description="Id of the key that encrypted the credentials")
    credential_fields: list[str] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utcnow)
