"""What a WhatsApp worker does with one ``whatsapp.dispatch`` record.

The router accepted the request and marked it ``dispatched``; this continues it: start
(or reuse) the session the request names (``sender``, else the tenant's default:
``selection.py``), wait until it can send (a QR code may have to be
scanned first), check the number is on WhatsApp, send, record the WhatsApp message id
(handing back acks that arrived earlier) and emit ``sent`` -- or ``failed``.

Records are handled through :class:`~streams.pipeline.inflight.InFlight` with the tenant as the
ordering key: a tenant's messages go out in order, other tenants' are not held up, and
each record's offset is acknowledged once its terminal status is on the broker. A
replayed record whose notification is already sent or failed sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from opentelemetry.trace import SpanKind

from providers._exceptions import (
    HeraldError,
    InvalidRequest,
    PermanentError,
    ProviderError,
    RetryableError,
)
from providers.wppconnect import WPPConnectProvider, build_call
from schemas import ErrorInfo, NotificationRequest, Settings, Status, StatusEvent
from schemas.status import utcnow
from streams.pipeline.decode import DeadLetter, Invalid, RawRecord, decode
from streams.pipeline.inflight import InFlight, run_to_end
from streams.pipeline.processor import INFRA_ERRORS, EventSink, traced_record
from streams.pipeline.resolve import Rejection
from streams.pipeline.retrying import event_for
from streams.pipeline.state import RANKS, NotificationRecord, NotificationState
from streams.platform.metrics import metrics
from streams.platform.outbox import StatusOutbox
from streams.platform.tracing import work_span
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.whatsapp.manager import SessionManager, options_for
from streams.whatsapp.message_ids import MessageIds
from streams.whatsapp.selection import session_for
from streams.whatsapp.session import FINAL_CLOSE_CODES

__all__ = ["DispatchProcessor"]

log = logging.getLogger(__name__)

PROVIDER = WPPConnectProvider.name
Done = Callable[[], Awaitable[object]]


class _Abandoned(HeraldError):
    """The worker is stopping or lost the tenant's partition: leave the record unacked."""


def _delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Backoff with jitter; the session worker's ``retry_after`` wins (both capped)."""
    if retry_after is not None and retry_after > 0:
        return min(retry_after, cap)
    return float(min(cap, base * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0))


class DispatchProcessor:
    def __init__(
        self,
        *,
        settings: Settings,
        state: NotificationState,
        lookups: LookupsService,
        integrations: IntegrationStore,
        sessions: SessionManager,
        sink: EventSink,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        outbox: StatusOutbox | None = None,
    ) -> None:
        self.outbox = outbox  # HOOK(outbox): attributes each record's status events to it
        self.settings = settings
        self.state = state
        self.lookups = lookups
        self.integrations = integrations
        self.sessions = sessions
        self.sink = sink
        self.sleep = sleep
        self.inflight = InFlight(settings.max_in_flight)
        self.message_ids = MessageIds(state.redis)
        self.stopping = False
        #: The dispatch partitions this worker owns (``None``: not told yet, e.g. in tests).
        self.owned: set[int] | None = None

    # --- entry point ----------------------------------------------------------------------

    async def submit(self, record: RawRecord, done: Done) -> None:
        """Schedule one dispatch record; ``done`` runs once its terminal status is produced."""
        arrived = asyncio.get_running_loop().time()
        outcome = decode(record, max_bytes=self.settings.max_request_bytes)
        finished = False

        async def ack() -> None:
            if finished:
                await done()

        async def job(step: Callable[[], Awaitable[None]]) -> None:
            nonlocal finished
            try:
                await self._retry_infra(step)
                finished = True
            except _Abandoned:
                log.info("dispatch left for the next owner", extra={"partition": record.partition})

        def tracked(
            tenant: str | None, work: Callable[[], Awaitable[None]], nid: str | None = None
        ) -> Callable[[], Awaitable[None]]:
            # In the record's span (it continues the hand-off's trace; docs/tracing.md).
            work = traced_record(record, work, tenant_id=tenant, notification_id=nid)
            if self.outbox is None:  # HOOK(outbox): this record's events are attributed to it
                return work
            return self.outbox.tracked(record.topic, record.partition, record.offset, tenant, work)

        if isinstance(outcome, DeadLetter):
            letter = outcome
            await self.inflight.submit(
                "\x00dlq", tracked(None, lambda: job(lambda: self.sink.dead_letter(letter))), ack
            )
        elif isinstance(outcome, Invalid):
            invalid = outcome
            await self.inflight.submit(
                invalid.tenant_id,
                tracked(
                    invalid.tenant_id,
                    lambda: job(lambda: self._invalid(invalid)),
                    invalid.notification_id,
                ),
                ack,
            )
        else:
            request = outcome.request
            tenant = request.tenant_id
            queued = self.sessions.queued

            async def deliver() -> None:
                try:
                    await job(lambda: self._deliver(request, arrived, record.partition))
                finally:
                    queued[tenant] -= 1
                    if queued[tenant] <= 0:
                        del queued[tenant]

            queued[tenant] += 1  # the session's queue depth, visible in the metrics
            await self.inflight.submit(tenant, tracked(tenant, deliver, request.id), ack)

    async def process(self, record: RawRecord) -> None:
        """Process one record to the end (tests and tools)."""
        await run_to_end(self.submit, record)

    async def _retry_infra(self, step: Callable[[], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await step()
                return
            except INFRA_ERRORS as exc:
                if self.stopping:
                    raise _Abandoned("stopping") from exc
                delay = _delay(attempt, 0.2, 5.0)
                log.warning(
                    "infrastructure error; retrying",
                    extra={"what": "whatsapp-dispatch", "attempt": attempt, "error": repr(exc)},
                )
                await self.sleep(delay)

    # --- one request ----------------------------------------------------------------------

    def _event(self, request: NotificationRequest, status: Status, **fields: Any) -> StatusEvent:
        return event_for(request, status, PROVIDER, **fields)

    async def _invalid(self, invalid: Invalid) -> None:
        event = StatusEvent(
            notification_id=invalid.notification_id,
            tenant_id=invalid.tenant_id,
            channel=invalid.channel,
            provider=PROVIDER,
            status=Status.FAILED,
            error=ErrorInfo(code="invalid_request", message=invalid.message),
            metadata=invalid.metadata,
        )
        await self.state.advance(invalid.tenant_id, invalid.notification_id, Status.FAILED)
        await self.sink.status(event)
        await self.state.set_phase(invalid.tenant_id, invalid.notification_id, "failed")

    async def _deliver(self, request: NotificationRequest, arrived: float, partition: int) -> None:
        tenant, nid = request.tenant_id, request.id
        record = await self.state.get(tenant, nid)
        if record is not None and record.rank >= RANKS[Status.SENT]:
            await self._replayed(request, record)
            return
        try:
            with work_span("resolve", attributes=self._span_attributes(request)):
                credentials, ref = await session_for(request, self.lookups, self.integrations)
            call = build_call(request)
        except Rejection as exc:
            await self._fail(request, PermanentError(exc.code, exc.message), 1)
            return
        except InvalidRequest as exc:
            await self._fail(request, exc, 1)
            return
        options = options_for(self.settings, credentials)
        key = await self.message_ids.key(tenant, nid)  # unpredictable to other tenants
        attempt = 0
        while True:
            attempt += 1
            self._abandon_if_leaving(partition, None)
            try:
                session = await self.sessions.ensure(
                    ref.sid,
                    options,
                    waiting_since=arrived,
                    partition=partition,
                    is_default=ref.is_default,
                )
                await self.sessions.prepare(session)
                async with session.send_guard:
                    # Owned now (lease): a previous owner finished and recorded its sends
                    # before releasing, so this tells whether the message went out already.
                    record = await self.state.get(tenant, nid)
                    if record is not None and record.rank >= RANKS[Status.SENT]:
                        await self._replayed(request, record)
                        return
                    # A CLIENT span for the call into the session's page (wa-js).
                    with work_span(
                        f"send {PROVIDER}",
                        kind=SpanKind.CLIENT,
                        attributes=self._span_attributes(request, attempt),
                    ) as span:
                        message_id = await self.sessions.send(session, call, key=key)
                        span.set_attribute("herald.provider_message_id", message_id)
                    await self._sent(request, message_id, attempt)
                return
            except RetryableError as exc:
                self._abandon_if_leaving(partition, exc)
                if exc.code in FINAL_CLOSE_CODES or attempt >= self.settings.send_max_attempts:
                    await self._fail(request, exc, attempt)
                    return
                delay = _delay(
                    attempt,
                    self.settings.retry_base_delay_seconds,
                    self.settings.retry_max_delay_seconds,
                    exc.retry_after,
                )
                await self.sink.status(
                    self._event(
                        request,
                        Status.RETRYING,
                        attempt=attempt,
                        next_attempt_at=utcnow() + timedelta(seconds=delay),
                        error=ErrorInfo(code=exc.code, message=exc.message, retryable=True),
                    )
                )
                await self.sleep(delay)
            except PermanentError as exc:
                await self._fail(request, exc, attempt)
                return

    @staticmethod
    def _span_attributes(
        request: NotificationRequest, attempt: int | None = None
    ) -> dict[str, Any]:
        return {
            "tenant_id": request.tenant_id,
            "notification_id": request.id,
            "herald.provider": PROVIDER,
            "herald.attempt": attempt,
        }

    def _abandon_if_leaving(self, partition: int, exc: BaseException | None) -> None:
        if self.stopping or (self.owned is not None and partition not in self.owned):
            raise _Abandoned("the session was closed because this worker is leaving") from exc

    async def _replayed(self, request: NotificationRequest, record: NotificationRecord) -> None:
        """A dispatch record seen again (rebalance, restart): never send twice."""
        if (
            record.rank != RANKS[Status.FAILED]
            and record.provider_message_id
            and record.phase not in ("sent", "failed")
        ):
            # Recorded as sent, but the worker stopped before ``sent`` was emitted.
            await self.sink.status(
                self._event(request, Status.SENT, provider_message_id=record.provider_message_id)
            )
            await self.state.set_phase(request.tenant_id, request.id, "sent")
            return
        log.info(
            "dispatch replay ignored: already sent or failed",
            extra={"tenant_id": request.tenant_id, "notification_id": request.id},
        )

    async def _sent(self, request: NotificationRequest, message_id: str, attempt: int) -> None:
        tenant, nid = request.tenant_id, request.id
        parked = await self.state.record_sent(tenant, nid, PROVIDER, message_id)
        metrics().sent(PROVIDER)
        log.info(
            "notification sent",
            extra={"tenant_id": tenant, "notification_id": nid, "provider": PROVIDER},
        )
        await self.sink.status(
            self._event(request, Status.SENT, attempt=attempt, provider_message_id=message_id)
        )
        await self.state.set_phase(tenant, nid, "sent")
        for item in parked:
            if await self.state.advance(tenant, nid, item.status) is None:
                continue
            error = item.payload.get("error")
            await self.sink.status(
                self._event(
                    request,
                    item.status,
                    attempt=attempt,
                    provider_message_id=message_id,
                    error=ErrorInfo.model_validate(error) if error else None,
                )
            )

    async def _fail(self, request: NotificationRequest, exc: ProviderError, attempt: int) -> None:
        log.warning(
            "notification failed",
            extra={
                "tenant_id": request.tenant_id,
                "notification_id": request.id,
                "provider": PROVIDER,
                "code": exc.code,
            },
        )
        await self.state.advance(request.tenant_id, request.id, Status.FAILED)
        metrics().failed(PROVIDER, exc.code)
        error = ErrorInfo(code=exc.code, message=exc.message, retryable=exc.retryable)
        await self.sink.status(self._event(request, Status.FAILED, attempt=attempt, error=error))
        await self.state.set_phase(request.tenant_id, request.id, "failed")
