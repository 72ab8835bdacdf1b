"""The WhatsApp worker's agents: ``whatsapp.dispatch`` and ``whatsapp.commands``.

Thin loops, as the router's: each record goes to the dispatch or command processor
with a manual ack that runs once the record's outputs are on the broker. Both topics
are keyed by tenant and have the same partition count, so Faust's co-partitioned
assignment gives a worker the same partition numbers of both: the worker that owns a
tenant's messages also receives its commands. After a rebalance, sessions whose
partition went to another worker are closed (that worker takes the tenants over).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

from streams.agents.router import acked_records

if TYPE_CHECKING:
    from streams.platform.topics import Topics
    from streams.whatsapp.runtime import WhatsAppRuntime

__all__ = ["register"]


def _partitions(tps: Any, topic: str) -> set[int]:
    return {tp.partition for tp in tps or () if tp.topic == topic}


def register(app: faust.App, topics: Topics, runtime: WhatsAppRuntime) -> None:
    dispatch_topic = runtime.settings.topic_whatsapp_dispatch

    @app.agent(topics.whatsapp_dispatch, name="whatsapp-dispatch")
    async def dispatch(stream: Any) -> None:
        await runtime.start()
        async for record, done in acked_records(stream):
            await runtime.dispatcher.submit(record, done)

    @app.agent(topics.whatsapp_commands, name="whatsapp-commands")
    async def commands(stream: Any) -> None:
        await runtime.start()
        async for record, done in acked_records(stream):
            await runtime.commands.submit(record, done)

    @app.on_partitions_revoked.connect
    async def on_revoked(app: faust.App, revoked: Any, **kwargs: Any) -> None:
        runtime.outbox.revoke(revoked)  # HOOK(outbox): their floors belong to the next owner

    @app.on_partitions_assigned.connect
    async def on_assigned(app: faust.App, assigned: Any, **kwargs: Any) -> None:
        # The full assignment: sessions of partitions not in it belong to another worker now.
        runtime.assigned = True
        runtime.outbox.assign(assigned, before=runtime.start)  # HOOK(outbox): read back
        await runtime.assign(_partitions(assigned, dispatch_topic))
