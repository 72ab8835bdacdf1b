"""The router's hot path: a batch of records at a time (plain async code, no Faust).

:meth:`BatchRouter.route` takes the records the agent collected (up to
``HERALD_ROUTER_BATCH_MAX`` within ``HERALD_ROUTER_BATCH_WINDOW_MS``) and:

1. decodes each one; dead letters, invalid and mis-keyed records take the per-record
   path of :class:`~streams.pipeline.processor.RequestProcessor` (in order);
2. resolves each request's provider and credentials from in-process caches (one
   resolution per tenant, channel and provider per chunk) and validates it;
3. claims the whole chunk in one Redis round trip
   (:meth:`~streams.pipeline.batchstate.BatchState.claim`): new requests with a token
   (one bucket read and write per tenant and provider per chunk, or a token leased by an
   earlier chunk: ``TokenLeases``) and a free bulkhead
   slot, and no earlier request to the same recipient still in flight, start attempt 1
   at once; the others are created ``accepted`` and continue the per-request way
   (rate-limit waits, bulkheads, hand-offs to another worker role); records that exist
   (duplicates, replays after a crash) go through the processor's replay logic;
4. hands every ``accepted`` event of the chunk to the producer together, and starts the
   provider calls (bounded by ``HERALD_MAX_IN_FLIGHT``, one recipient's in order);
5. records the successful calls in waves (:class:`~streams.pipeline.completions.Completions`).

A chunk is at most the free in-flight slots, so a request is marked ``sending`` only when
its call can start: a crash leaves at most ``HERALD_MAX_IN_FLIGHT`` outcomes unknown, as
before. Each record's ``done`` runs once all its outputs are on the broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from providers import InvalidRequest
from providers.base import Provider, SendResult
from schemas import NotificationRequest, Status, StatusEvent
from streams.pipeline.batchstate import BEGAN, CREATED, BatchState, ClaimItem, SentItem
from streams.pipeline.completions import Completions, emit_statuses
from streams.pipeline.decode import Decoded, RawRecord, decode_record, ordering_key
from streams.pipeline.delivery import event_for
from streams.pipeline.processor import RequestProcessor, source_of, traced_record
from streams.pipeline.resolve import Rejection, Resolved, resolve_provider
from streams.pipeline.state import NotificationRecord
from streams.platform.infra import INFRA_ERRORS, durable
from streams.platform.outbox import OutboxJob
from streams.platform.tracing import (
    batch_span,
    extract,
    remember,
    tracing_on,
    work_span,
)

__all__ = ["BatchRouter"]

log = logging.getLogger(__name__)

Done = Callable[[], Awaitable[object]]
Job = Callable[[], Awaitable[None]]
#: (tenant, channel, requested provider, sender): one resolution per chunk for each.
_ResolutionKey = tuple[str, str, str | None, str | None]


@dataclass(slots=True)
class _Entry:
    record: RawRecord
    done: Done
    request: NotificationRequest
    key: str  # ordering key (tenant, channel, recipient)
    resolved: Resolved | None = None
    provider: Provider[Any] | None = None
    claim: ClaimItem | None = None


class BatchRouter:
    def __init__(self, processor: RequestProcessor, state: BatchState) -> None:
        self.processor = processor
        self.deliverer = processor.deliverer
        self.inflight = processor.inflight
        self.settings = processor.settings
        self.state = state
        self.completions = Completions(state, processor.state, processor.sink)
        # Never all the slots: the ones not held by the chunk belong to running jobs.
        self._min_chunk = max(1, min(self.settings.router_batch_max, self.inflight.limit) // 4)

    async def route(self, batch: Sequence[tuple[RawRecord, Done]]) -> None:
        """Schedule every record of ``batch``; returns once all are scheduled (not done)."""
        topic = batch[0][0].topic if batch else ""
        # One span for the batch, linking each record's context (docs/tracing.md).
        with batch_span(f"schedule {topic}", (record.headers for record, _ in batch)):
            await self._route(batch)

    async def _route(self, batch: Sequence[tuple[RawRecord, Done]]) -> None:
        chunk: list[_Entry] = []
        traced = tracing_on()  # once per batch: off, no header of a record is parsed
        for record, done in batch:
            outcome = decode_record(record, self.settings)
            if not isinstance(outcome, Decoded) or record.key != outcome.request.tenant_id.encode():
                await self._flush(chunk)
                chunk = []
                await self.processor.submit_decoded(record, outcome, done)
                continue
            if self.inflight.full and len(chunk) >= self._min_chunk:
                # Its jobs free slots; below the minimum, wait for running jobs to free
                # them instead, so that a saturated worker still claims in groups rather
                # than one request per round trip.
                await self._flush(chunk)
                chunk = []
            await self.inflight.acquire()
            request = outcome.request
            # `accepted` leaves before the job starts: it descends from the producer's span.
            if traced and record.headers:  # without headers there is no context to continue
                remember(request.tenant_id, request.id, extract(record.headers))
            chunk.append(_Entry(record, done, request, ordering_key(request)))
        await self._flush(chunk)

    # -- one chunk -------------------------------------------------------------------------

    async def _flush(self, chunk: list[_Entry]) -> None:
        if not chunk:
            return
        owners = await self._begin(chunk)
        try:
            await self._plan(chunk)
            planned = [e for e in chunk if e.claim is not None]
            results = await self._claim([e.claim for e in planned if e.claim is not None])
        except Exception:  # a bug, or Redis refusing the script: the per-request way
            log.exception("batch claim failed; its requests go the per-request way")
            for entry, owner in zip(chunk, owners, strict=True):
                fallback = self._as(owner, self._per_request(entry))
                self.inflight.spawn(entry.key, fallback, entry.done)
            return
        outcome: dict[int, NotificationRecord | str] = {
            id(e): r for e, r in zip(planned, results, strict=True)
        }
        accepted: list[StatusEvent] = []
        accepted_owners: list[OutboxJob | None] = []
        for entry, owner in zip(chunk, owners, strict=True):
            if outcome.get(id(entry)) in (BEGAN, CREATED):
                assert entry.resolved is not None
                accepted.append(event_for(entry.request, Status.ACCEPTED, entry.resolved.name))
                accepted_owners.append(owner)
        sink = self.processor.sink
        before = asyncio.ensure_future(
            durable(lambda: emit_statuses(sink, accepted, accepted_owners), "accepted")
        )
        for entry, owner in zip(chunk, owners, strict=True):
            result = outcome.get(id(entry))
            job: Callable[[], Awaitable[None]]
            if result == BEGAN:
                job = self._began(entry, before)
            elif result == CREATED:
                job = self._created(entry, before)
            else:  # not claimed here (rejected, unreadable credentials) or already exists
                job = self._per_request(entry)
            record, request = entry.record, entry.request
            traced = traced_record(
                record, job, tenant_id=request.tenant_id, notification_id=request.id
            )
            self.inflight.spawn(entry.key, self._as(owner, traced), entry.done)

    async def _begin(self, chunk: list[_Entry]) -> list[OutboxJob | None]:
        """HOOK(outbox): one handle per record, before any of the chunk's events exists.

        Each record's events (the chunk's ``accepted``, its ``sent`` in a completion wave,
        anything its job emits) are attributed to it: its floor holds until its offset is
        committed. No I/O: the gate is open except during a read-back after assignment.
        """
        outbox = self.processor.outbox
        if outbox is None:
            return [None] * len(chunk)
        await outbox.opened()
        return [
            outbox.begin(e.record.topic, e.record.partition, e.record.offset, e.request.tenant_id)
            for e in chunk
        ]

    def _as(self, owner: OutboxJob | None, job: Callable[[], Awaitable[None]]) -> Job:
        """``job`` run as ``owner``'s record (in its own task: the owner is a context var)."""
        outbox = self.processor.outbox
        if owner is None or outbox is None:
            return job
        return lambda: outbox.run_as(owner, job)

    async def _plan(self, chunk: list[_Entry]) -> None:
        """Resolve and validate each request; decide which may start its call at once."""
        resolutions: dict[_ResolutionKey, Resolved | None] = {}
        providers: dict[int, Provider[Any]] = {}
        calls: Counter[str] = Counter(self.deliverer.in_flight_calls)
        seen: set[str] = set()
        traced = tracing_on()  # checked once per chunk: off, no span is set up
        for entry in chunk:
            request = entry.request
            rkey = (request.tenant_id, request.channel.value, request.provider, request.sender)
            if traced:
                # Resolution runs here, before the record's job: its span is a child of
                # the record's own context (docs/tracing.md), shared results included.
                attributes = {
                    "tenant_id": request.tenant_id,
                    "notification_id": request.id,
                    "herald.cached": rkey in resolutions,
                }
                with work_span("resolve", entry.record.headers, attributes=attributes) as span:
                    await self._resolve(request, rkey, resolutions)
                    found = resolutions[rkey]
                    if found is not None:
                        span.set_attribute("herald.provider", found.name)
            elif rkey not in resolutions:
                await self._resolve(request, rkey, resolutions)
            resolved = resolutions[rkey]
            if resolved is None:
                continue
            provider = providers.get(id(resolved))
            if provider is None:
                provider = providers[id(resolved)] = self.deliverer.build(resolved)
            try:
                provider.validate(request)
            except InvalidRequest:
                continue  # rejected by the per-request path, which validates again
            except Exception:
                continue
            entry.resolved, entry.provider = resolved, provider
            slot = f"{request.tenant_id}\x00{resolved.name}"
            bucket: tuple[float, int] | tuple[()] | None = None
            if (
                resolved.provider_cls.handoff_role is None
                and entry.key not in seen
                and not self.inflight.busy(entry.key)
                and calls[slot] < self.settings.bulkhead_limit
            ):
                limit = self.deliverer.rate_limit(resolved)
                bucket = () if limit is None else (limit.per_second, limit.burst)
                calls[slot] += 1
            seen.add(entry.key)
            entry.claim = ClaimItem(
                tenant_id=request.tenant_id,
                notification_id=request.id,
                provider=resolved.name,
                channel=request.channel.value,
                metadata=request.metadata,
                src=source_of(entry.record),
                bucket=bucket,
            )

    async def _resolve(
        self,
        request: NotificationRequest,
        rkey: _ResolutionKey,
        resolutions: dict[_ResolutionKey, Resolved | None],
    ) -> None:
        """One resolution per tenant, channel and provider per chunk (None: per-request)."""
        if rkey in resolutions:
            return
        try:
            resolutions[rkey] = await resolve_provider(
                request, self.processor.lookups, self.processor.integrations
            )
        except Rejection:
            resolutions[rkey] = None
        except Exception:  # the per-request path turns it into a status
            resolutions[rkey] = None

    async def _claim(self, items: list[ClaimItem]) -> list[NotificationRecord | str]:
        """Claim, riding out Redis errors: a retry finds our own first try by its source."""
        attempt = 0
        while True:
            attempt += 1
            try:
                results = await self.state.claim(items)
                break
            except INFRA_ERRORS as exc:
                log.warning("claim failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(min(5.0, 0.2 * 2 ** min(attempt - 1, 5)))
        if attempt > 1:  # the failed try may have been applied: those records are ours
            for i, (item, result) in enumerate(zip(items, results, strict=True)):
                if isinstance(result, NotificationRecord) and result.src == item.src:
                    if result.phase == "sending" and result.attempt == 1:
                        results[i] = BEGAN
                    elif result.phase == "accepted":
                        results[i] = CREATED
        return results

    # -- the jobs --------------------------------------------------------------------------

    def _began(self, entry: _Entry, before: Awaitable[object]) -> Callable[[], Awaitable[None]]:
        resolved, provider, request = entry.resolved, entry.provider, entry.request
        assert resolved is not None
        assert provider is not None
        slot = f"{request.tenant_id}\x00{resolved.name}"
        self.deliverer.in_flight_calls[slot] += 1  # taken now, released after the call

        async def job() -> None:
            async def run() -> None:
                result = await self.deliverer.call(provider, request, slot)
                if isinstance(result, SendResult):
                    item = SentItem(
                        tenant_id=request.tenant_id,
                        notification_id=request.id,
                        provider=resolved.name,
                        attempt=1,
                        provider_message_id=result.provider_message_id,
                    )
                    await self.completions.sent(item, request, before)
                    return
                await before
                target = await self.deliverer.settle_failure(request, resolved, 1, [], result)
                if target is not None:
                    await self.processor.continue_delivery(request, target, 2, [resolved.name])

            await self.processor.guarded(request, resolved.name, 1, run)

        return job

    def _created(self, entry: _Entry, before: Awaitable[object]) -> Callable[[], Awaitable[None]]:
        resolved, request = entry.resolved, entry.request
        assert resolved is not None

        async def job() -> None:
            async def run() -> None:
                await before
                await self.processor.continue_delivery(request, resolved, 1, [])

            await self.processor.guarded(request, resolved.name, 1, run)

        return job

    def _per_request(self, entry: _Entry) -> Callable[[], Awaitable[None]]:
        request, src = entry.request, source_of(entry.record)

        async def job() -> None:
            await self.processor.request_job(request, src)

        return job
