"""The router agent: consumes ``notifications.requests``; a thin loop over the processor.

Acks are manual: each event is acknowledged when its outputs (status events, dead
letter or re-keyed copy) are on the broker, so a committed offset never covers a
request whose statuses were not produced (at-least-once). Faust commits the highest
offset below which every event was acknowledged, so overlapping events finishing out
of order is safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

from streams.pipeline.decode import RawRecord

if TYPE_CHECKING:
    from streams.platform.runtime import Runtime
    from streams.platform.topics import Topics

__all__ = ["record_from_event", "register"]


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


def register(app: faust.App, topics: Topics, runtime: Runtime) -> Any:
    @app.agent(topics.requests, name="router")
    async def route(stream: Any) -> None:
        await runtime.start()
        manual = stream.noack()
        async for event in manual.events():

            async def done(event: Any = event) -> None:
                await manual.ack(event)

            await runtime.processor.submit(record_from_event(event), done)

    @app.on_partitions_assigned.connect
    async def on_assigned(app: faust.App, assigned: Any, **kwargs: Any) -> None:
        runtime.assigned = True
        # HOOK(outbox): read back the status partitions the new sources wrote to, before
        # any of their records emits again (in the background; emissions wait for it).
        runtime.outbox.assign(assigned, before=runtime.start)

    @app.on_partitions_revoked.connect
    async def on_revoked(app: faust.App, revoked: Any, **kwargs: Any) -> None:
        runtime.outbox.revoke(revoked)  # HOOK(outbox): their floors belong to the next owner
        # Finish what is in flight before another worker takes these partitions over, so
        # that it does not redo sends that are about to complete here.
        if runtime.started:
            await runtime.processor.inflight.drain(
                timeout=runtime.settings.broker_rebalance_timeout
            )

    return route
