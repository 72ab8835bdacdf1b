"""Delivering an accepted notification: attempts, retries, failover, rate limits, bulkheads.

One attempt = one provider call, fenced in Redis (``NotificationState.begin_attempt``):
the record says ``sending`` with the attempt number while the call is out, so a crash
during the call is detected on replay and resolved by ``HERALD_UNKNOWN_OUTCOME``
(``fail``: ``failed``/``outcome_unknown``, never a duplicate; ``resend``: a new attempt,
never a loss).

After a retryable error: if the tenant's policy allows failover and it has another
active integration for the channel, the next attempt goes there at once; else, below
the attempt limit, a :class:`~schemas.retry.RetryEnvelope` waits on the delay topic of
the right tier (``retrying`` is emitted with the next attempt's time) and the retry
agent resumes it; at the limit, ``failed``. A token bucket per tenant and provider
delays sends (inline when short, on a delay topic when long); a bulkhead caps calls in
flight per tenant and provider, so a hanging provider cannot take every slot.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import httpx

from providers import PermanentError, ProviderError, RetryableError
from providers.base import Provider, RateLimit, Resources, SendResult
from schemas import ErrorCode, ErrorInfo, NotificationRequest, Settings, Status
from schemas.retry import RetryEnvelope, RetryReason
from schemas.status import utcnow
from streams.pipeline import outcomes
from streams.pipeline.ratelimit import TokenBucket
from streams.pipeline.resolve import Rejection, Resolved, alternatives, resolve_named
from streams.pipeline.retrying import (
    RetryPlan,
    backoff_delay,
    event_for,
    retry_policy,
    schedule_retry,
    tier_topic,
)
from streams.pipeline.state import NotificationRecord, NotificationState
from streams.platform.infra import durable
from streams.platform.tracing import work_span
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.tenancy.policy import PolicyStore

__all__ = ["Deliverer", "backoff_delay", "event_for"]  # the last two: streams.pipeline.retrying

log = logging.getLogger(__name__)


class Deliverer:
    def __init__(
        self,
        *,
        settings: Settings,
        state: NotificationState,
        lookups: LookupsService,
        integrations: IntegrationStore,
        policies: PolicyStore,
        buckets: TokenBucket,
        http: httpx.AsyncClient,
        sink: Any,
        resources: Resources | None = None,
    ) -> None:
        self.resources = resources if resources is not None else Resources()
        self.settings = settings
        self.state = state
        self.lookups = lookups
        self.integrations = integrations
        self.policies = policies
        self.buckets = buckets
        self.http = http
        self.sink = sink
        self.in_flight_calls: Counter[str] = Counter()

    # -- entry points ----------------------------------------------------------------------

    def build(self, resolved: Resolved) -> Provider[Any]:
        return resolved.provider_cls(
            resolved.credentials, http=self.http, settings=self.settings, resources=self.resources
        )

    async def deliver(
        self,
        request: NotificationRequest,
        resolved: Resolved,
        attempt: int,
        tried: list[str] | None = None,
    ) -> None:
        """Make attempt ``attempt`` with ``resolved`` (and what follows from its outcome)."""
        tried = list(tried or [])
        while True:
            if resolved.provider_cls.handoff_role is not None:
                # Sent by another worker role (e.g. WhatsApp Web sessions), which continues
                # from the "dispatched" phase -- as first choice or as a failover target.
                routed = request.model_copy(update={"provider": resolved.name})
                await self.sink.handoff(resolved.provider_cls.handoff_role, routed)
                await self.state.set_phase(request.tenant_id, request.id, "dispatched")
                return
            outcome = await self._attempt(request, resolved, attempt, tried)
            if outcome is None:
                return
            # Failover: the next integration, at once, as the next attempt.
            tried.append(resolved.name)
            resolved, attempt = outcome, attempt + 1

    async def resume(self, envelope: RetryEnvelope) -> None:
        """A retry envelope came due: continue the notification if it is still ours."""
        request = envelope.request
        record = await self.state.get(request.tenant_id, request.id)
        if record is None:
            # Its Redis record expired or was deleted: nothing says whether an attempt is
            # running elsewhere, so it is not resent; it ends with a code, not silently.
            log.warning(
                "retry for a vanished notification record: failed",
                extra={"tenant_id": request.tenant_id, "notification_id": request.id},
            )
            await self.state.claim(request.tenant_id, request.id)
            error = ErrorInfo(
                code=ErrorCode.STATE_EXPIRED,
                message="the notification's state expired or was removed before its retry",
            )
            await self.fail(request, envelope.provider, error, envelope.attempt)
            return
        if record.provider_message_id and not record.terminal:
            await self.finish_sent(request, record)  # crashed between recording and emitting
            return
        if record.phase == "sending" and record.attempt == envelope.attempt:
            await self.unknown_outcome(request, record)
            return
        retry = record.retry or {}
        if record.phase != "scheduled" or retry.get("attempt") != envelope.attempt:
            return  # stale or duplicated envelope: another one (or the router) owns it
        try:
            with work_span(
                "resolve",
                attributes={
                    "tenant_id": request.tenant_id,
                    "notification_id": request.id,
                    "herald.provider": envelope.provider,
                    "herald.attempt": envelope.attempt,
                },
            ):
                resolved = await resolve_named(
                    request, envelope.provider, self.lookups, self.integrations
                )
        except Rejection as exc:
            await self.fail(
                request,
                envelope.provider,
                ErrorInfo(code=exc.code, message=exc.message),
                envelope.attempt,
            )
            return
        await self.deliver(request, resolved, envelope.attempt, envelope.tried)

    async def unknown_outcome(
        self, request: NotificationRequest, record: NotificationRecord
    ) -> None:
        """A crash happened during attempt ``record.attempt``'s provider call."""
        provider = record.provider or request.provider
        if self.settings.unknown_outcome == "resend" and provider is not None:
            await self.state.set_phase(request.tenant_id, request.id, "accepted")
            resolved = await resolve_named(request, provider, self.lookups, self.integrations)
            await self.deliver(request, resolved, record.attempt + 1)
            return
        error = ErrorInfo(
            code=ErrorCode.OUTCOME_UNKNOWN,
            message="the worker stopped during the provider call; not resent to avoid a duplicate",
        )
        await self.fail(request, provider, error, record.attempt)

    # -- one attempt -----------------------------------------------------------------------

    async def _attempt(
        self, request: NotificationRequest, resolved: Resolved, attempt: int, tried: list[str]
    ) -> Resolved | None:
        """Run one attempt; return the failover target if the next attempt goes there now."""
        tenant, nid, name = request.tenant_id, request.id, resolved.name
        slot = f"{tenant}\x00{name}"
        if self.in_flight_calls[slot] >= self.settings.bulkhead_limit:
            await self._schedule(
                RetryPlan(request, name, attempt, tried, 1.0, RetryReason.BULKHEAD, None)
            )
            return None
        wait = await self._rate_wait(tenant, resolved)
        if wait > 0:
            await self._schedule(
                RetryPlan(request, name, attempt, tried, wait, RetryReason.RATE_LIMITED, None)
            )
            return None
        if not await self.state.begin_attempt(tenant, nid, attempt, name):
            log.info(
                "attempt already started elsewhere; skipped",
                extra={"tenant_id": tenant, "notification_id": nid, "attempt": attempt},
            )
            return None
        self.in_flight_calls[slot] += 1
        result = await self.call(self.build(resolved), request, slot)
        # From here on the provider has answered: Redis or Kafka trouble must not turn the
        # outcome into an "unknown" one, so each step is retried until it succeeds.
        if isinstance(result, SendResult):
            message_id = result.provider_message_id
            await durable(lambda: self._sent(request, name, attempt, message_id), "sent")
            return None
        return await self.settle_failure(request, resolved, attempt, tried, result)

    async def call(
        self, provider: Provider[Any], request: NotificationRequest, slot: str
    ) -> SendResult | RetryableError | PermanentError:
        """One provider call, its bulkhead slot (``slot``, taken by the caller) released after."""
        try:
            return await self._call(provider, request)  # type: ignore[no-any-return]
        except (RetryableError, PermanentError) as exc:
            return exc
        finally:
            self.in_flight_calls[slot] -= 1
            if self.in_flight_calls[slot] <= 0:
                del self.in_flight_calls[slot]

    async def settle_failure(
        self,
        request: NotificationRequest,
        resolved: Resolved,
        attempt: int,
        tried: list[str],
        failure: RetryableError | PermanentError,
    ) -> Resolved | None:
        """After a failed call: retry, fail over (the target is returned) or fail."""
        name = resolved.name
        if isinstance(failure, RetryableError):
            retryable = failure
            return await durable(
                lambda: self._after_retryable(request, resolved, attempt, tried, retryable), "retry"
            )
        error = ErrorInfo(code=failure.code, message=failure.message, retryable=False)
        await durable(lambda: self.fail(request, name, error, attempt), "fail")
        return None

    async def _rate_wait(self, tenant: str, resolved: Resolved) -> float:
        """Wait inline for a token if that is short; else return how long to defer."""
        limit = self.rate_limit(resolved)
        if limit is None:
            return 0.0
        key = f"{{{tenant}}}:{resolved.name}"  # = batchstate.bucket_key, one bucket for both
        while True:
            wait = await self.buckets.take(key, rate=limit.per_second, burst=limit.burst)
            if wait <= 0:
                return 0.0
            if wait > self.settings.max_inline_wait_seconds:
                return wait
            await asyncio.sleep(wait)

    def rate_limit(self, resolved: Resolved) -> RateLimit | None:
        override = self.settings.rate_limits.get(resolved.name)
        if override is not None:
            rate = override.per_second
            burst = override.burst if override.burst is not None else int(max(1, rate))
            return RateLimit(rate, burst) if rate > 0 else None
        return resolved.provider_cls.rate_limit

    async def _call(self, provider: Provider[Any], request: NotificationRequest) -> Any:
        budget = self.settings.provider_timeout_seconds * 2 + 1
        try:
            async with asyncio.timeout(budget):
                return await provider.send(request)
        except ProviderError:
            raise
        except TimeoutError as exc:
            raise RetryableError(
                ErrorCode.PROVIDER_TIMEOUT, f"provider call exceeded {budget:.1f}s"
            ) from exc
        except Exception as exc:
            log.exception(
                "provider raised an unexpected error",
                extra={
                    "tenant_id": request.tenant_id,
                    "notification_id": request.id,
                    "provider": provider.name,
                },
            )
            raise RetryableError(
                ErrorCode.INTERNAL_ERROR, f"unexpected {type(exc).__name__}"
            ) from exc

    # -- outcomes --------------------------------------------------------------------------

    async def _after_retryable(
        self,
        request: NotificationRequest,
        resolved: Resolved,
        attempt: int,
        tried: list[str],
        exc: RetryableError,
    ) -> Resolved | None:
        name = resolved.name
        error = ErrorInfo(code=exc.code, message=exc.message, retryable=True)
        max_attempts, base, factor, cap = retry_policy(self.settings, name)
        if attempt >= max_attempts:
            await self.fail(request, name, error, attempt)
            return None
        target = await self._failover_target(request, [*tried, name])
        if target is not None:
            await self.sink.status(
                event_for(
                    request,
                    Status.RETRYING,
                    name,
                    attempt=attempt,
                    next_attempt_at=utcnow(),
                    error=error,
                )
            )
            await self.state.set_phase(request.tenant_id, request.id, "accepted")
            return target
        delay = backoff_delay(attempt, base, cap, exc.retry_after, factor)
        first = tried[0] if tried else name  # after a failover round, start over from the top
        await self._schedule(
            RetryPlan(request, first, attempt + 1, [], delay, RetryReason.RETRY, error)
        )
        return None

    async def _failover_target(
        self, request: NotificationRequest, tried: list[str]
    ) -> Resolved | None:
        if not (await self.policies.get(request.tenant_id)).failover:
            return None
        for name in await alternatives(request, set(tried), self.integrations):
            try:
                return await resolve_named(request, name, self.lookups, self.integrations)
            except Rejection:
                continue
        return None

    async def _schedule(self, plan: RetryPlan) -> None:
        await schedule_retry(self.state, self.sink, self.settings, plan)

    def tier_topic(self, delay: float) -> str:
        return tier_topic(self.settings, delay)

    async def _sent(
        self, request: NotificationRequest, provider: str, attempt: int, message_id: str
    ) -> None:
        await outcomes.record_sent(self.state, self.sink, request, provider, attempt, message_id)

    async def finish_sent(self, request: NotificationRequest, record: NotificationRecord) -> None:
        """Resume after a crash between recording the send and emitting ``sent``."""
        await outcomes.finish_sent(self.state, self.sink, request, record)

    async def fail(
        self, request: NotificationRequest, provider: str | None, error: ErrorInfo, attempt: int
    ) -> None:
        await outcomes.fail(self.state, self.sink, request, provider, error, attempt)

    async def reproduce(self, record: NotificationRecord) -> None:
        """Produce a scheduled record's envelope again (replay after a crash)."""
        if record.retry and record.retry.get("envelope"):
            envelope = RetryEnvelope.model_validate_json(record.retry["envelope"])
            delay = max(0.0, (envelope.due_at - utcnow()).total_seconds())
            await self.sink.retry(self.tier_topic(delay), envelope)
