"""The router agent: consumes ``notifications.requests``; a thin loop over the batch path.

Records are collected into batches (``HERALD_ROUTER_BATCH_MAX`` records or
``HERALD_ROUTER_BATCH_WINDOW_MS``) and handed to
:meth:`streams.pipeline.batch.BatchRouter.route`.

Acks are manual: each event is acknowledged when its outputs (status events, dead
letter or re-keyed copy) are on the broker, so a committed offset never covers a
request whose statuses were not produced (at-least-once). Faust commits the highest
offset below which every event was acknowledged, so overlapping events finishing out
of order is safe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import faust

from streams.pipeline.collect import Collector
from streams.pipeline.decode import RawRecord

if TYPE_CHECKING:
    from streams.platform.runtime import Runtime
    from streams.platform.topics import Topics

__all__ = ["acked_records", "record_from_event", "register"]

Item = tuple[RawRecord, Callable[[], Awaitable[object]]]


def record_from_event(event: Any) -> RawRecord:
    message = event.message
    headers = message.headers or []
    if isinstance(headers, dict):
        headers = list(headers.items())
    return RawRecord(
        key=message.key,
        value=message.value,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        headers=[(str(k), bytes(v) if v is not None else b"") for k, v in headers],
    )


async def acked_records(stream: Any) -> AsyncIterator[Item]:
    """Each record of an agent's ``stream`` with its manual ack: ``done`` acknowledges it."""
    manual = stream.noack()
    async for event in manual.events():

        async def done(event: Any = event) -> None:
            await manual.ack(event)

        yield record_from_event(event), done


def register(app: faust.App, topics: Topics, runtime: Runtime) -> Any:
    settings = runtime.settings
    holder: dict[str, Collector[Item]] = {}

    @app.agent(topics.requests, name="router")
    async def route(stream: Any) -> None:
        await runtime.start()
        collector: Collector[Item] = Collector(
            runtime.batch_router.route,
            max_size=settings.router_batch_max,
            window=settings.router_batch_window_ms / 1000,
        )
        holder["collector"] = collector
        async for item in acked_records(stream):
            await collector.add(item)

    @app.on_partitions_assigned.connect
    async def on_assigned(app: faust.App, assigned: Any, **kwargs: Any) -> None:
        runtime.assigned = True
        # HOOK(outbox): read back the status partitions the new sources wrote to, before
        # any of their records emits again (in the background; emissions wait for it).
        runtime.outbox.assign(assigned, before=runtime.start)

    @app.on_partitions_revoked.connect
    async def on_revoked(app: faust.App, revoked: Any, **kwargs: Any) -> None:
        # Finish what is in flight before another worker takes these partitions over, so
        # that it does not redo sends that are about to complete here.
        if runtime.started:
            collector = holder.get("collector")
            if collector is not None:
                await collector.flush()
            await runtime.processor.inflight.drain(timeout=settings.broker_rebalance_timeout)
        # HOOK(outbox): their floors belong to the next owner from now on. Last, not first:
        # the jobs drained above may still write a floor (the next owner joins only after
        # this handler returns), and Faust drops the revoked partitions' uncommitted acks,
        # so the floors must keep covering every record since the last commit.
        runtime.outbox.revoke(revoked)

    return route
