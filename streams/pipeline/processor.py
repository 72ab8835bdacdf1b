"""What the router does with one record: plain async code, callable without Faust.

The Faust agent (``streams.agents.router``) only feeds records into
:meth:`RequestProcessor.submit`; everything that can go wrong per event is handled
here, so a bad event never reaches Faust (which would ack it on an exception).

Per request: claim the (tenant, id) record in Redis (a terminal record means a
duplicate: nothing happens) -> resolve the provider -> ``validate()`` -> emit
``accepted`` -> ``send()`` -> record the provider message id (handing back early
webhooks) -> emit ``sent``; a retryable failure fails over or waits on a delay topic
(:mod:`streams.pipeline.retrying`), a permanent one ends ``failed``. The batch path
(:mod:`streams.pipeline.batch`) hands the requests it cannot start at once to this one.
Infrastructure errors (Redis, Kafka) are retried with backoff until they pass: the
work is idempotent by construction, so a retry resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx

from providers import InvalidRequest
from providers.base import Resources
from schemas import ErrorCode, ErrorInfo, NotificationRequest, Settings, Status, StatusEvent
from schemas.retry import RetryEnvelope
from streams.pipeline import badinput
from streams.pipeline.decode import (
    DeadLetter,
    Decoded,
    Invalid,
    RawRecord,
    decode_record,
    ordering_key,
)
from streams.pipeline.delivery import Deliverer, backoff_delay, event_for
from streams.pipeline.inflight import InFlight, run_to_end
from streams.pipeline.ratelimit import TokenBucket
from streams.pipeline.resolve import CredentialsUnreadable, Rejection, Resolved, resolve_provider
from streams.pipeline.state import NotificationState
from streams.platform.infra import INFRA_ERRORS, durable
from streams.platform.outbox import StatusOutbox
from streams.platform.tracing import traced_job, work_span
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.tenancy.policy import PolicyStore

__all__ = [
    "INFRA_ERRORS",
    "EventSink",
    "RequestProcessor",
    "backoff_delay",
    "source_of",
    "traced_record",
]

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]

#: Phases in which the request's outcome is recorded (and its event produced or queued).
_FINAL_PHASES = frozenset({"sent", "failed", "rejected", "dispatched", "scheduled"})


def source_of(record: RawRecord) -> str:
    """The Kafka record a request came from: a replay of it is told from a duplicate."""
    return f"{record.topic}:{record.partition}:{record.offset}"


class EventSink(Protocol):
    """Where the processor's output goes; each call returns once the broker has it."""

    async def status(self, event: StatusEvent) -> None: ...

    async def dead_letter(self, letter: DeadLetter) -> None: ...

    async def forward(self, record: RawRecord, key: bytes) -> None: ...

    async def handoff(self, role: str, request: NotificationRequest) -> None: ...

    async def retry(self, topic: str, envelope: RetryEnvelope) -> None: ...


def traced_record(record: RawRecord, job: Job, **attributes: Any) -> Job:
    """``job`` in its record's CONSUMER span (as it is, while tracing is off)."""
    where = {"partition": record.partition, "offset": record.offset, **attributes}
    return traced_job(record.topic, record.headers, job, **where)


class RequestProcessor:
    def __init__(
        self,
        *,
        settings: Settings,
        state: NotificationState,
        lookups: LookupsService,
        integrations: IntegrationStore,
        http: httpx.AsyncClient,
        sink: EventSink,
        policies: PolicyStore,
        buckets: TokenBucket,
        resources: Resources | None = None,
        outbox: StatusOutbox | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = outbox  # HOOK(outbox): attributes each record's status events to it
        self.resources = resources if resources is not None else Resources()
        self.state = state
        self.lookups = lookups
        self.integrations = integrations
        self.http = http
        self.sink = sink
        self.inflight = InFlight(settings.max_in_flight)
        self.deliverer = Deliverer(
            settings=settings,
            state=state,
            lookups=lookups,
            integrations=integrations,
            policies=policies,
            buckets=buckets,
            http=http,
            sink=sink,
            resources=self.resources,
        )

    # -- entry points ----------------------------------------------------------------------

    def _tracked(self, record: RawRecord | None, tenant: str | None, job: Job) -> Job:
        """HOOK(outbox): run ``job`` as ``record``'s work (no-op without an outbox)."""
        if self.outbox is None or record is None:
            return job
        return self.outbox.tracked(record.topic, record.partition, record.offset, tenant, job)

    async def submit(self, record: RawRecord, done: Callable[[], Awaitable[object]]) -> None:
        """Schedule one record; ``done`` runs once its outputs are on the broker."""
        outcome = decode_record(record, self.settings)
        await self.submit_decoded(record, outcome, done)

    async def submit_decoded(
        self,
        record: RawRecord,
        outcome: DeadLetter | Invalid | Decoded,
        done: Callable[[], Awaitable[object]],
    ) -> None:
        # Each job in its record's span: what it produces continues the producer's trace.
        if isinstance(outcome, DeadLetter):
            key = f"\x00dlq{record.offset % 16}"  # dead letters need no order among themselves
            letter = outcome
            dead = traced_record(record, lambda: self._dead(letter))
            await self.inflight.submit(key, self._tracked(record, None, dead), done)
        elif isinstance(outcome, Invalid):
            key = f"{outcome.tenant_id}\x00invalid"
            invalid = outcome
            rejected = traced_record(
                record,
                lambda: self._invalid(invalid),
                tenant_id=invalid.tenant_id,
                notification_id=invalid.notification_id,
            )
            job = self._tracked(record, invalid.tenant_id, rejected)
            await self.inflight.submit(key, job, done)
        else:
            request = outcome.request
            if record.key != request.tenant_id.encode():
                # Mis-keyed by its producer: re-key by tenant so that the tenant's requests
                # meet in one partition, and let that copy be processed instead.
                forward = traced_record(
                    record,
                    lambda: self._retry_infra(
                        lambda: self.sink.forward(record, request.tenant_id.encode()), "forward"
                    ),
                )
                await self.inflight.submit(
                    "\x00forward", self._tracked(record, None, forward), done
                )
                return
            src = source_of(record)
            traced = traced_record(
                record,
                lambda: self.request_job(request, src),
                tenant_id=request.tenant_id,
                notification_id=request.id,
            )
            job = self._tracked(record, request.tenant_id, traced)
            await self.inflight.submit(ordering_key(request), job, done)

    async def process(self, record: RawRecord) -> None:
        """Process one record to the end (tests and tools; the agent uses :meth:`submit`)."""
        await run_to_end(self.submit, record)

    # -- infrastructure retries ------------------------------------------------------------

    async def _retry_infra(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        await durable(step, what)

    # -- the three kinds of input ----------------------------------------------------------

    async def _dead(self, letter: DeadLetter) -> None:
        await badinput.dead_letter(self.sink, letter)

    async def _invalid(self, invalid: Invalid) -> None:
        await badinput.reject_invalid(self.state, self.sink, invalid)

    async def request_job(self, request: NotificationRequest, src: str | None = None) -> None:
        """The per-request path, to its end: never leaves a request without an outcome."""
        await self.guarded(request, request.provider, 0, lambda: self._request(request, src))

    async def _request(self, request: NotificationRequest, src: str | None = None) -> None:
        await self._retry_infra(lambda: self._deliver(request, src), "deliver")

    async def continue_delivery(
        self, request: NotificationRequest, resolved: Resolved, attempt: int, tried: list[str]
    ) -> None:
        """Go on with an accepted request (the batch path hands over here)."""
        try:
            await self.deliverer.deliver(request, resolved, attempt, tried)
        except INFRA_ERRORS:
            # Where it stopped is in Redis: the replay logic resumes from there.
            await self._request(request)

    async def guarded(
        self,
        request: NotificationRequest,
        provider: str | None,
        attempt: int,
        run: Callable[[], Awaitable[None]],
    ) -> None:
        """Run ``run``; an unexpected error (a bug) ends the request ``failed``/``internal_error``."""
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception(
                "unexpected error while processing a request; it ends failed",
                extra={
                    "tenant_id": request.tenant_id,
                    "notification_id": request.id,
                    "provider": provider,
                },
            )
            error = ErrorInfo(
                code=ErrorCode.INTERNAL_ERROR, message=f"unexpected {type(exc).__name__}"
            )
            await self._retry_infra(
                lambda: self._fail_unless_final(request, provider, error, attempt), "fail-internal"
            )

    async def _fail_unless_final(
        self, request: NotificationRequest, provider: str | None, error: ErrorInfo, attempt: int
    ) -> None:
        record = await self.state.get(request.tenant_id, request.id)
        if record is not None and record.phase == "sent" and record.provider_message_id:
            # The send is recorded: its `sent` event (again, same eventId) is the outcome.
            await self.deliverer.finish_sent(request, record)
            return
        if record is not None and record.phase in _FINAL_PHASES:
            log.error(
                "unexpected error after the request's outcome was recorded",
                extra={
                    "tenant_id": request.tenant_id,
                    "notification_id": request.id,
                    "phase": record.phase,
                },
            )
            return
        if record is None:
            await self.state.claim(request.tenant_id, request.id)
        await self.deliverer.fail(
            request, provider or (record.provider if record else None), error, attempt
        )

    # -- delivery --------------------------------------------------------------------------

    async def _reject(self, request: NotificationRequest, code: str, message: str) -> None:
        log.info(
            "request rejected",
            extra={
                "tenant_id": request.tenant_id,
                "notification_id": request.id,
                "provider": request.provider,
                "code": code,
            },
        )
        error = ErrorInfo(code=code, message=message)
        await self.sink.status(event_for(request, Status.REJECTED, request.provider, error=error))
        await self.state.set_phase(
            request.tenant_id, request.id, "rejected", error=error.model_dump_json(by_alias=True)
        )

    async def _accepted(self, request: NotificationRequest, provider: str | None) -> None:
        await self.sink.status(event_for(request, Status.ACCEPTED, provider))

    async def _deliver(self, request: NotificationRequest, src: str | None = None) -> None:
        tenant, nid = request.tenant_id, request.id
        record = await self.state.claim(tenant, nid)
        if record is not None:
            # The same Kafka record again (a replay after a crash): its events may not all
            # have reached the broker, so what it had emitted is emitted again (same
            # eventIds). Another record with the same id is a duplicate: nothing happens.
            replay = src is not None and record.src == src
            if record.phase == "scheduled":
                await self.deliverer.reproduce(record)  # replay: the envelope may be missing
                return
            if replay and record.phase == "sent" and record.provider_message_id:
                await self._accepted(request, record.provider)
                await self.deliverer.finish_sent(request, record)
                return
            if record.terminal:
                log.info(
                    "duplicate request ignored",
                    extra={"tenant_id": tenant, "notification_id": nid, "phase": record.phase},
                )
                return
            if record.provider_message_id:  # the send was recorded; its `sent` maybe not
                await self.deliverer.finish_sent(request, record)
                return
            if record.phase == "sending":
                if replay:
                    await self._accepted(request, record.provider)
                await self.deliverer.unknown_outcome(request, record)
                return
        try:
            with work_span("resolve", attributes={"notification_id": nid}) as span:
                resolved = await resolve_provider(request, self.lookups, self.integrations)
                span.set_attribute("herald.provider", resolved.name)
                provider = self.deliverer.build(resolved)
                provider.validate(request)
        except Rejection as exc:
            await self._reject(request, exc.code, exc.message)
            return
        except InvalidRequest as exc:
            await self._reject(request, exc.code, exc.message)
            return
        except INFRA_ERRORS:
            raise
        except CredentialsUnreadable as exc:
            await self._unroutable(request, exc)
            return
        if record is None or record.phase in ("claimed", "accepted"):
            # Emitted again for a record the batch path created `accepted`: its event may
            # not have reached the broker (at-least-once, same eventId).
            await self.sink.status(event_for(request, Status.ACCEPTED, resolved.name))
            if record is None or record.phase != "accepted":
                await self.state.mark_accepted(
                    tenant,
                    nid,
                    channel=request.channel.value,
                    provider=resolved.name,
                    metadata=request.metadata,
                )
        attempt = (record.attempt if record is not None else 0) + 1
        await self.deliverer.deliver(request, resolved, attempt)

    async def _unroutable(self, request: NotificationRequest, exc: CredentialsUnreadable) -> None:
        """The provider or its credentials could not be read: ``failed`` with a code."""
        log.error(
            "credentials unreadable; request failed",
            extra={
                "tenant_id": request.tenant_id,
                "notification_id": request.id,
                "provider": exc.provider,
                "code": exc.code,
            },
        )
        error = ErrorInfo(code=exc.code, message=exc.message, retryable=exc.retryable)
        await self.deliverer.fail(request, exc.provider, error, 0)

    async def retry(self, envelope: RetryEnvelope) -> None:
        """A retry envelope came due (the retry agents call this through :meth:`submit_retry`)."""
        await self._retry_infra(lambda: self.deliverer.resume(envelope), "retry")

    async def submit_retry(
        self,
        envelope: RetryEnvelope,
        done: Callable[[], Awaitable[object]],
        source: RawRecord | None = None,
    ) -> None:
        job: Callable[[], Awaitable[None]] = lambda: self.retry(envelope)  # noqa: E731
        if source is not None:  # continue the trace the delay topic's record carries
            job = traced_record(
                source,
                job,
                tenant_id=envelope.request.tenant_id,
                notification_id=envelope.request.id,
                **{"herald.attempt": envelope.attempt, "herald.provider": envelope.provider},
            )
        job = self._tracked(source, envelope.request.tenant_id, job)
        await self.inflight.submit(ordering_key(envelope.request), job, done)
