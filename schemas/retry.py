"""Retry envelopes: what waits on the delay topics (``notifications.retry.<tier>``).

Internal to Herald (produced and consumed by the router role), but a wire format all
the same: records survive restarts and upgrades, so it is a versioned model here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from schemas._base import WireModel
from schemas.notification import NotificationRequest
from schemas.status import ErrorInfo

__all__ = ["RetryEnvelope", "RetryReason"]


class RetryReason(StrEnum):
    RETRY = "retry"  # a retryable provider error: the attempt number goes up
    RATE_LIMITED = "rate_limited"  # the tenant's token bucket was empty: same attempt, later
    BULKHEAD = "bulkhead"  # too many calls in flight for this tenant and provider


class RetryEnvelope(WireModel):
    version: int = 1
    request: NotificationRequest
    attempt: int = Field(ge=1, description="The attempt number to make when due")
    provider: str = Field(description="Provider for that attempt")
    tried: list[str] = Field(default_factory=list, description="Providers failed over from")
    due_at: datetime
    reason: RetryReason = RetryReason.RETRY
    last_error: ErrorInfo | None = None
