"""Retry planning: backoff, per-provider policies, delay tiers, and scheduling a retry.

A retryable failure below the attempt limit becomes a :class:`~schemas.retry.RetryEnvelope`
on the delay topic of the right tier (the smallest tier at least the delay; the largest
beyond it), recorded first as ``scheduled`` in Redis, with ``retrying`` emitted for a
retry (not for a rate-limit or bulkhead deferral). The retry agent resumes it when due.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any, NamedTuple

from schemas import ErrorInfo, NotificationRequest, Settings, Status, StatusEvent
from schemas.retry import RetryEnvelope, RetryReason
from schemas.settings import RetryPolicy
from schemas.status import utcnow
from streams.pipeline.state import NotificationState

__all__ = [
    "RetryPlan",
    "backoff_delay",
    "event_for",
    "retry_policy",
    "schedule_retry",
    "tier_topic",
]

log = logging.getLogger(__name__)


def backoff_delay(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    factor: float = 2.0,
) -> float:
    """Exponential backoff with jitter; a provider's Retry-After wins (both capped)."""
    if retry_after is not None and retry_after > 0:
        return min(retry_after, cap)
    exponential: float = base * factor ** (attempt - 1)
    jitter: float = random.uniform(0.5, 1.0)
    return min(cap, exponential) * jitter


def event_for(
    request: NotificationRequest, status: Status, provider: str | None, **fields: Any
) -> StatusEvent:
    return StatusEvent(
        notification_id=request.id,
        tenant_id=request.tenant_id,
        channel=request.channel.value,
        provider=provider,
        status=status,
        metadata=request.metadata,
        **fields,
    )


def retry_policy(settings: Settings, provider: str) -> tuple[int, float, float, float]:
    """``(max attempts, base delay, factor, max delay)`` for ``provider``: its
    ``HERALD_RETRY_POLICIES`` entry over the global retry settings."""
    s = settings
    o = s.retry_policies.get(provider) or RetryPolicy()
    return (
        o.max_attempts if o.max_attempts is not None else s.send_max_attempts,
        o.base_delay if o.base_delay is not None else s.retry_base_delay_seconds,
        o.factor if o.factor is not None else s.retry_factor,
        o.max_delay if o.max_delay is not None else s.retry_max_delay_seconds,
    )


def tier_topic(settings: Settings, delay: float) -> str:
    """The delay topic for ``delay`` seconds: the smallest tier that is at least as long."""
    topics = settings.retry_topics
    for tier in sorted(topics):
        if tier >= delay:
            return topics[tier]
    return topics[max(topics)]


class RetryPlan(NamedTuple):
    """A retry to schedule: ``request``'s ``attempt`` on ``provider`` in ``delay`` seconds,
    after the providers ``tried`` in this failover round, for ``reason`` (``error``: the
    failure that caused it, if any)."""

    request: NotificationRequest
    provider: str
    attempt: int
    tried: list[str]
    delay: float
    reason: RetryReason
    error: ErrorInfo | None


async def schedule_retry(
    state: NotificationState, sink: Any, settings: Settings, plan: RetryPlan
) -> None:
    """Record ``scheduled`` with the envelope, emit ``retrying`` (for a retry), produce it."""
    request, provider, attempt, tried, delay, reason, error = plan
    due = utcnow() + timedelta(seconds=delay)
    envelope = RetryEnvelope(
        request=request,
        attempt=attempt,
        provider=provider,
        tried=tried,
        due_at=due,
        reason=reason,
        last_error=error,
    )
    # Record first, then produce: a replay of the request finds "scheduled" and produces
    # the envelope again; duplicates are harmless (attempts are fenced).
    await state.schedule(
        request.tenant_id,
        request.id,
        {"attempt": attempt, "envelope": envelope.to_json().decode()},
    )
    if reason is RetryReason.RETRY:
        await sink.status(
            event_for(
                request,
                Status.RETRYING,
                provider,
                attempt=attempt - 1,
                next_attempt_at=due,
                error=error,
            )
        )
    await sink.retry(tier_topic(settings, delay), envelope)
    log.info(
        "notification scheduled",
        extra={
            "tenant_id": request.tenant_id,
            "notification_id": request.id,
            "provider": provider,
            "attempt": attempt,
            "reason": reason.value,
            "delay": round(delay, 3),
        },
    )
