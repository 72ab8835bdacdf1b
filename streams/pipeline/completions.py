"""Recording successful sends in waves: one Redis round trip and one produce per wave.

A provider call that succeeded hands its result to :meth:`Completions.sent` and waits.
While a wave is being written, the next results queue up; when it is done they form the
next wave (a group commit: no timer, no added latency when the load is light). A wave
is: one :meth:`~streams.pipeline.batchstate.BatchState.record_sent` round trip (the
compare-and-set on each attempt, the correlations, the parked reports), then every
``sent`` event and replayed report handed to the producer together
(:func:`emit_statuses`), acknowledged together. Each caller returns once its own events
are on the broker -- so its Kafka offset may be acknowledged.

A result whose attempt is no longer current (a zombie: this worker lost the partition
and another one moved the notification on) emits nothing and is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from schemas import ErrorInfo, NotificationRequest, Status, StatusEvent
from streams.pipeline.batchstate import BatchState, SentItem
from streams.pipeline.delivery import event_for
from streams.pipeline.state import NotificationState, ParkedStatus
from streams.platform.infra import durable
from streams.platform.metrics import metrics
from streams.platform.outbox import OutboxJob, current_job

__all__ = ["Completions", "StatusEmitter", "emit_statuses"]

log = logging.getLogger(__name__)


class StatusEmitter(Protocol):
    async def status(self, event: StatusEvent) -> None: ...


async def emit_statuses(
    sink: StatusEmitter,
    events: Sequence[StatusEvent],
    owners: Sequence[OutboxJob | None] | None = None,
) -> None:
    """Hand ``events`` to the sink together (``emit_statuses`` when it batches), in order.

    ``owners[i]``: the consumed record ``events[i]`` belongs to (HOOK(outbox)); by
    default the record whose job runs in this task.
    """
    if not events:
        return
    batch = getattr(sink, "emit_statuses", None)
    if batch is not None:
        await batch(events, owners)
        return
    for event in events:
        await sink.status(event)


@dataclass(slots=True, eq=False)
class _Done:
    item: SentItem
    request: NotificationRequest
    before: Awaitable[object]  # the request's `accepted` event, produced first
    future: asyncio.Future[bool]
    owner: OutboxJob | None  # the record it belongs to (HOOK(outbox))
    current: bool | None = None  # set once recorded (a retried wave does not record twice)
    parked: list[ParkedStatus] = field(default_factory=list)


class Completions:
    def __init__(self, batch_state: BatchState, state: NotificationState, sink: StatusEmitter):
        self._batch_state = batch_state
        self._state = state
        self._sink = sink
        self._queue: list[_Done] = []
        self._task: asyncio.Task[None] | None = None

    async def sent(
        self, item: SentItem, request: NotificationRequest, before: Awaitable[object]
    ) -> bool:
        """Record and emit a successful send; ``False`` if the attempt was not current."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append(_Done(item, request, before, future, current_job()))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            wave, self._queue = self._queue, []
            try:
                await durable(lambda wave=wave: self._flush(wave), "record-sent")  # type: ignore[misc]
            except Exception as exc:  # a bug: each caller ends its request as failed
                for done in wave:
                    if not done.future.done():
                        done.future.set_exception(exc)
            except BaseException:
                for done in wave:
                    if not done.future.done():
                        done.future.cancel()
                raise

    async def _flush(self, wave: list[_Done]) -> None:
        todo = [d for d in wave if d.current is None]
        if todo:
            results = await self._batch_state.record_sent([d.item for d in todo])
            for done, (current, parked) in zip(todo, results, strict=True):
                done.current, done.parked = current, parked
        events: list[StatusEvent] = []
        owners: list[OutboxJob | None] = []
        for done in wave:
            item = done.item
            if not done.current:
                log.warning(
                    "late result of an attempt that is no longer current: not emitted",
                    extra={
                        "tenant_id": item.tenant_id,
                        "notification_id": item.notification_id,
                        "provider": item.provider,
                        "attempt": item.attempt,
                    },
                )
                continue
            metrics().sent(item.provider)
            events.append(
                event_for(
                    done.request,
                    Status.SENT,
                    item.provider,
                    attempt=item.attempt,
                    provider_message_id=item.provider_message_id,
                )
            )
            owners.append(done.owner)
        befores = {id(d.before): d.before for d in wave}
        for before in befores.values():
            await before
        await emit_statuses(self._sink, events, owners)
        for done in wave:
            if done.current and done.parked:
                await self._replay_parked(done)
        for done in wave:
            if not done.future.done():
                done.future.set_result(bool(done.current))

    async def _replay_parked(self, done: _Done) -> None:
        """Delivery reports that arrived before the send was recorded (rare)."""
        item = done.item
        while done.parked:
            parked = done.parked[0]
            if await self._state.advance(item.tenant_id, item.notification_id, parked.status):
                error = parked.payload.get("error")
                event = event_for(
                    done.request,
                    parked.status,
                    item.provider,
                    attempt=item.attempt,
                    provider_message_id=item.provider_message_id,
                    error=ErrorInfo.model_validate(error) if error else None,
                )
                await emit_statuses(self._sink, [event], [done.owner])
            done.parked.pop(0)
