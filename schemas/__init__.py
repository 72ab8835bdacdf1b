"""Herald's wire contract: every model that crosses a process boundary.

These pydantic models are the single source of truth; ``herald schemas`` exports
their JSON Schema and docs/topics-and-schemas.md is generated from them. The providers'
credentials models live in their packages; ``schemas.credentials`` (not imported here, to
keep ``providers`` -> ``schemas`` free of cycles) gathers them into one union.
"""

from __future__ import annotations

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
