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
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

import httpx
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from providers import InvalidRequest, PermanentError, ProviderError, RetryableError
from schemas import ErrorCode, ErrorInfo, NotificationRequest, Settings, Status, StatusEvent
from schemas.status import utcnow
from streams.decode import DeadLetter, Invalid, RawRecord, decode, ordering_key
from streams.inflight import InFlight
from streams.integrations import IntegrationStore
from streams.lookups import LookupsService
from streams.resolve import Rejection, Resolved, resolve_provider
from streams.state import NotificationRecord, NotificationState

__all__ = ["EventSink", "RequestProcessor", "backoff_delay"]

log = logging.getLogger(__name__)

INFRA_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    OSError,
)


class EventSink(Protocol):
    """Where the processor's output goes; each call returns once the broker has it."""

    async def status(self, event: StatusEvent) -> None: ...

    async def dead_letter(self, letter: DeadLetter) -> None: ...

    async def forward(self, record: RawRecord, key: bytes) -> None: ...

    async def handoff(self, role: str, request: NotificationRequest) -> None: ...


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a provider's Retry-After wins (capped)."""
    if retry_after is not None and retry_after > 0:
        return min(retry_after, cap)
    exponential: float = base * 2.0 ** (attempt - 1)
    jitter: float = random.uniform(0.5, 1.0)
    return min(cap, exponential) * jitter


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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.state = state
        self.lookups = lookups
        self.integrations = integrations
        self.http = http
        self.sink = sink
        self.sleep = sleep
        self.inflight = InFlight(settings.max_in_flight)

    # -- entry points ----------------------------------------------------------------------

    async def submit(self, record: RawRecord, done: Callable[[], Awaitable[object]]) -> None:
        """Schedule one record; ``done`` runs once its outputs are on the broker."""
        outcome = decode(record, max_bytes=self.settings.max_request_bytes)
        if isinstance(outcome, DeadLetter):
            key = f"\x00dlq{record.offset % 16}"  # dead letters need no order among themselves
            await self.inflight.submit(key, lambda: self._dead(outcome), done)
        elif isinstance(outcome, Invalid):
            key = f"{outcome.tenant_id}\x00invalid"
            await self.inflight.submit(key, lambda: self._invalid(outcome), done)
        else:
            request = outcome.request
            if record.key != request.tenant_id.encode():
                # Mis-keyed by its producer: re-key by tenant so that the tenant's requests
                # meet in one partition, and let that copy be processed instead.
                await self.inflight.submit(
                    "\x00forward",
                    lambda: self._retry_infra(
                        lambda: self.sink.forward(record, request.tenant_id.encode()), "forward"
                    ),
                    done,
                )
                return
            await self.inflight.submit(ordering_key(request), lambda: self._request(request), done)

    async def process(self, record: RawRecord) -> None:
        """Process one record to the end (tests and tools; the agent uses :meth:`submit`)."""
        finished = asyncio.Event()

        async def done() -> None:
            finished.set()

        await self.submit(record, done)
        await finished.wait()

    # -- infrastructure retries ------------------------------------------------------------

    async def _retry_infra(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await step()
                return
            except INFRA_ERRORS as exc:
                delay = backoff_delay(attempt, 0.2, 5.0)
                log.warning(
                    "infrastructure error; retrying",
                    extra={
                        "what": what,
                        "attempt": attempt,
                        "delay": round(delay, 2),
                        "error": repr(exc),
                    },
                )
                await self.sleep(delay)

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

    def _event(
        self, request: NotificationRequest, status: Status, provider: str | None, **fields: Any
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
        await self.sink.status(self._event(request, Status.REJECTED, request.provider, error=error))
        await self.state.set_phase(request.tenant_id, request.id, "rejected")

    async def _deliver(self, request: NotificationRequest) -> None:
        tenant, nid = request.tenant_id, request.id
        record = await self.state.claim(tenant, nid)
        if record is not None and record.terminal:
            log.info(
                "duplicate request ignored",
                extra={"tenant_id": tenant, "notification_id": nid, "phase": record.phase},
            )
            return
        if record is not None and record.phase == "accepted" and record.provider_message_id:
            await self._finish_sent(request, record)
            return
        try:
            resolved = await resolve_provider(request, self.lookups, self.integrations)
            provider = resolved.provider_cls(
                resolved.credentials, http=self.http, settings=self.settings
            )
            provider.validate(request)
        except Rejection as exc:
            await self._reject(request, exc.code, exc.message)
            return
        except InvalidRequest as exc:
            await self._reject(request, exc.code, exc.message)
            return
        if record is None or record.phase != "accepted":
            await self.sink.status(self._event(request, Status.ACCEPTED, resolved.name))
            await self.state.mark_accepted(
                tenant,
                nid,
                channel=request.channel.value,
                provider=resolved.name,
                metadata=request.metadata,
            )
        if resolved.provider_cls.handoff_role is not None:
            # Sent by another worker role; it continues from the "dispatched" phase.
            routed = request.model_copy(update={"provider": resolved.name})
            await self.sink.handoff(resolved.provider_cls.handoff_role, routed)
            await self.state.set_phase(tenant, nid, "dispatched")
            return
        await self._send(request, resolved, provider)

    async def _send(self, request: NotificationRequest, resolved: Resolved, provider: Any) -> None:
        tenant, nid, name = request.tenant_id, request.id, resolved.name
        max_attempts = self.settings.send_max_attempts
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self._send_once(provider, request)
            except RetryableError as exc:
                if attempt >= max_attempts:
                    await self._fail(request, name, exc, attempt)
                    return
                delay = backoff_delay(
                    attempt,
                    self.settings.retry_base_delay_seconds,
                    self.settings.retry_max_delay_seconds,
                    exc.retry_after,
                )
                await self.sink.status(
                    self._event(
                        request,
                        Status.RETRYING,
                        name,
                        attempt=attempt,
                        next_attempt_at=utcnow() + timedelta(seconds=delay),
                        error=ErrorInfo(code=exc.code, message=exc.message, retryable=True),
                    )
                )
                await self.sleep(delay)
                continue
            except PermanentError as exc:
                await self._fail(request, name, exc, attempt)
                return
            break
        parked = await self.state.record_sent(tenant, nid, name, result.provider_message_id)
        log.info(
            "notification sent",
            extra={
                "tenant_id": tenant,
                "notification_id": nid,
                "provider": name,
                "attempt": attempt,
            },
        )
        await self.sink.status(
            self._event(
                request,
                Status.SENT,
                name,
                attempt=attempt,
                provider_message_id=result.provider_message_id,
            )
        )
        await self.state.set_phase(tenant, nid, "sent")
        for item in parked:
            moved = await self.state.advance(tenant, nid, item.status)
            if moved is not None:
                await self.sink.status(
                    self._event(
                        request,
                        item.status,
                        name,
                        attempt=attempt,
                        provider_message_id=result.provider_message_id,
                        error=ErrorInfo.model_validate(item.payload["error"])
                        if item.payload.get("error")
                        else None,
                    )
                )

    async def _finish_sent(self, request: NotificationRequest, record: NotificationRecord) -> None:
        """Resume after a crash between recording the send and emitting ``sent``."""
        await self.sink.status(
            self._event(
                request,
                Status.SENT,
                record.provider,
                provider_message_id=record.provider_message_id,
            )
        )
        await self.state.set_phase(request.tenant_id, request.id, "sent")

    async def _send_once(self, provider: Any, request: NotificationRequest) -> Any:
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

    async def _fail(
        self, request: NotificationRequest, provider: str, exc: ProviderError, attempt: int
    ) -> None:
        log.warning(
            "notification failed",
            extra={
                "tenant_id": request.tenant_id,
                "notification_id": request.id,
                "provider": provider,
                "code": exc.code,
                "attempt": attempt,
            },
        )
        await self.state.advance(request.tenant_id, request.id, Status.FAILED)
        error = ErrorInfo(code=exc.code, message=exc.message, retryable=exc.retryable)
        await self.sink.status(
            self._event(request, Status.FAILED, provider, attempt=attempt, error=error)
        )
        await self.state.set_phase(request.tenant_id, request.id, "failed")
