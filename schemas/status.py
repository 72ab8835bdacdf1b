"""Status events: what Herald writes to ``notifications.status``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, computed_field

from schemas._base import WireModel

__all__ = ["ErrorCode", "ErrorInfo", "Status", "StatusEvent", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Status(StrEnum):
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    REJECTED = "rejected"
    RETRYING = "retrying"


class ErrorCode(StrEnum):
    """Codes Herald itself assigns. Providers may also put their own code in ``error.code``."""

    INVALID_REQUEST = "invalid_request"
    UNKNOWN_PROVIDER = "unknown_provider"
    PROVIDER_INACTIVE = "provider_inactive"
    PROVIDER_NOT_IMPLEMENTED = "provider_not_implemented"
    CHANNEL_MISMATCH = "channel_mismatch"
    INVALID_RECIPIENT = "invalid_recipient"
    UNSUPPORTED_CONTENT = "unsupported_content"
    NO_INTEGRATION = "no_integration"
    UNKNOWN_SENDER = "unknown_sender"
    INVALID_CREDENTIALS = "invalid_credentials"
    PROVIDER_TIMEOUT = "provider_timeout"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_ERROR = "provider_error"
    RATE_LIMITED = "rate_limited"
    AUTH_FAILED = "auth_failed"
    INTERNAL_ERROR = "internal_error"
    OUTCOME_UNKNOWN = "outcome_unknown"
    CREDENTIALS_UNREADABLE = "credentials_unreadable"
    STATE_EXPIRED = "state_expired"


class ErrorInfo(WireModel):
    code: str
    message: str
    retryable: bool = False


class StatusEvent(WireModel):
    notification_id: str
    tenant_id: str
    channel: str | None = None
    provider: str | None = None
    status: Status
    provider_message_id: str | None = None
    attempt: int = 0
    next_attempt_at: datetime | None = None
    error: ErrorInfo | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime = Field(default_factory=utcnow)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def event_id(self) -> str:
        """Deterministic id of this transition: (tenant, notification, status), plus the
        attempt for ``retrying`` (one per failed attempt).

        Every other status happens at most once per notification (``sent`` and ``failed``
        whatever attempt reached them), so a replay after a crash, on any path, yields the
        same id for the same transition. Herald produces each id once
        (docs/guarantees.md); consumers may also de-duplicate on it.
        """
        parts = [self.tenant_id, self.notification_id, self.status.value]
        if self.status is Status.RETRYING:
            parts.append(str(self.attempt))
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
