"""What the router does with one record: plain async code, callable without Faust.

The Faust agent (``streams.agents.router``) only feeds records into
:meth:`RequestProcessor.submit`; everything that can go wrong per event is handled
here, so a bad event never reaches Faust (which would ack it on an exception).

Per request: claim the (tenant, id) record in Redis (a terminal record means a
duplicate: nothing happens) -> resolve the provider -> ``validate()`` -> emit
``accepted`` -> ``send()`` with bounded in-process retries -> record the provider
message id (handing back early webhooks) -> emit ``sent`` (or ``failed``).
Infrastructure errors (Redis, Kafka) are retried with backoff until they pass: the
work is idempotent by construction, so a retry resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import httpx

from providers import InvalidRequest
from providers.base import Resources
from schemas import ErrorCode, ErrorInfo, NotificationRequest, Settings, Status, StatusEvent
from schemas.retry import RetryEnvelope
from streams.pipeline.decode import DeadLetter, Invalid, RawRecord, decode, ordering_key
from streams.pipeline.delivery import Deliverer, backoff_delay, event_for
from streams.pipeline.inflight import InFlight
from streams.pipeline.ratelimit import TokenBucket
from streams.pipeline.resolve import Rejection, resolve_provider
from streams.pipeline.state import NotificationState
from streams.platform.infra import INFRA_ERRORS, durable
from streams.platform.outbox import StatusOutbox
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.tenancy.policy import PolicyStore

__all__ = ["INFRA_ERRORS", "EventSink", "RequestProcessor", "backoff_delay"]

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class EventSink(Protocol):
    """Where the processor's output goes; each call returns once the broker has it."""

    async def status(self, event: StatusEvent) -> None: ...

    async def dead_letter(self, letter: DeadLetter) -> None: ...

    async def forward(self, record: RawRecord, key: bytes) -> None: ...

    async def handoff(self, role: str, request: NotificationRequest) -> None: ...

    async def retry(self, topic: str, envelope: RetryEnvelope) -> None: ...


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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
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
        self.sleep = sleep
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
        outcome = decode(record, max_bytes=self.settings.max_request_bytes)
        if isinstance(outcome, DeadLetter):
            key = f"\x00dlq{record.offset % 16}"  # dead letters need no order among themselves
            letter = outcome
            await self.inflight.submit(
                key, self._tracked(record, None, lambda: self._dead(letter)), done
            )
        elif isinstance(outcome, Invalid):
            key = f"{outcome.tenant_id}\x00invalid"
            invalid = outcome
            job = self._tracked(record, invalid.tenant_id, lambda: self._invalid(invalid))
            await self.inflight.submit(key, job, done)
        else:
            request = outcome.request
            if record.key != request.tenant_id.encode():
                # Mis-keyed by its producer: re-key by tenant so that the tenant's requests
                # meet in one partition, and let that copy be processed instead.
                await self.inflight.submit(
                    "\x00forward",
                    self._tracked(
                        record,
                        None,
                        lambda: self._retry_infra(
                            lambda: self.sink.forward(record, request.tenant_id.encode()),
                            "forward",
                        ),
                    ),
                    done,
                )
                return
            job = self._tracked(record, request.tenant_id, lambda: self._request(request))
            await self.inflight.submit(ordering_key(request), job, done)

    async def process(self, record: RawRecord) -> None:
        """Process one record to the end (tests and tools; the agent uses :meth:`submit`)."""
        finished = asyncio.Event()

        async def done() -> None:
            finished.set()

        await self.submit(record, done)
        await finished.wait()

    # -- infrastructure retries ------------------------------------------------------------

    async def _retry_infra(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        await durable(step, what)

    # -- the three kinds of input ----------------------------------------------------------

    async def _dead(self, letter: DeadLetter) -> None:
        log.warning(
            "dead letter",
            extra={
                "reason": letter.info.reason.value,
                "detail": letter.info.detail[:200],
                "topic": letter.record.topic,
                "partition": letter.record.partition,
                "offset": letter.record.offset,
            },
        )
        await self._retry_infra(lambda: self.sink.dead_letter(letter), "dead-letter")

    async def _invalid(self, invalid: Invalid) -> None:
        async def step() -> None:
            record = await self.state.claim(invalid.tenant_id, invalid.notification_id)
            if record is not None and record.terminal:
                return
            await self.sink.status(
                StatusEvent(
                    notification_id=invalid.notification_id,
                    tenant_id=invalid.tenant_id,
                    channel=invalid.channel,
                    status=Status.REJECTED,
                    error=ErrorInfo(code=ErrorCode.INVALID_REQUEST, message=invalid.message),
                    metadata=invalid.metadata,
                )
            )
            await self.state.set_phase(invalid.tenant_id, invalid.notification_id, "rejected")

        log.info(
            "request rejected",
            extra={
                "tenant_id": invalid.tenant_id,
                "notification_id": invalid.notification_id,
                "code": ErrorCode.INVALID_REQUEST.value,
            },
        )
        await self._retry_infra(step, "reject-invalid")

    async def _request(self, request: NotificationRequest) -> None:
        await self._retry_infra(lambda: self._deliver(request), "deliver")

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
        await self.state.set_phase(request.tenant_id, request.id, "rejected")

    async def _deliver(self, request: NotificationRequest) -> None:
        tenant, nid = request.tenant_id, request.id
        record = await self.state.claim(tenant, nid)
        if record is not None:
            if record.phase == "scheduled":
                await self.deliverer.reproduce(record)  # replay: the envelope may be missing
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
                await self.deliverer.unknown_outcome(request, record)
                return
        try:
            resolved = await resolve_provider(request, self.lookups, self.integrations)
            provider = self.deliverer.build(resolved)
            provider.validate(request)
        except Rejection as exc:
            await self._reject(request, exc.code, exc.message)
            return
        except InvalidRequest as exc:
            await self._reject(request, exc.code, exc.message)
            return
        if record is None or record.phase != "accepted":
            await self.sink.status(event_for(request, Status.ACCEPTED, resolved.name))
            await self.state.mark_accepted(
                tenant,
                nid,
                channel=request.channel.value,
                provider=resolved.name,
                metadata=request.metadata,
            )
        attempt = (record.attempt if record is not None else 0) + 1
        await self.deliverer.deliver(request, resolved, attempt)

    async def retry(self, envelope: RetryEnvelope) -> None:
        """A retry envelope came due (the retry agents call this through :meth:`submit_retry`)."""
        await self._retry_infra(lambda: self.deliverer.resume(envelope), "retry")

    async def submit_retry(
        self,
        envelope: RetryEnvelope,
        done: Callable[[], Awaitable[object]],
        source: RawRecord | None = None,
    ) -> None:
        job = self._tracked(source, envelope.request.tenant_id, lambda: self.retry(envelope))
        await self.inflight.submit(ordering_key(envelope.request), job, done)
