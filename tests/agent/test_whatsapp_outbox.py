"""The WhatsApp worker's dispatch records are outbox sources: a worker that dies after
producing ``sent`` and before recording it does not produce ``sent`` again on replay.

Agent context (no broker, no browser): the status topic is an in-memory ``Log``
(tests/outbox_log.py), a real redis-server holds the notification state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from schemas import NotificationRequest, Settings, Status, StatusEvent
from streams.pipeline.state import NotificationState
from streams.platform.app import create_app
from streams.platform.outbox import StatusOutbox
from streams.platform.sink import MemorySink
from streams.whatsapp import MemoryWhatsAppSink
from tests.outbox_log import PARTITIONS, TOPIC, TP, Log, Memory
from tests.unit.whatsapp.fakes import FakeWhatsApp
from tests.whatsapp_web import ACME_SESSION, seed_integrations, wppconnect_settings


class OutboxSink(MemorySink):
    """MemorySink whose status events go through an outbox onto a ``Log``."""

    def __init__(self, log: Log) -> None:
        super().__init__()
        self.log = log
        self.outbox: StatusOutbox | None = None

    async def status(self, event: StatusEvent) -> None:
        assert self.outbox is not None

        async def produce(partition: int) -> int:
            return self.log.append(partition, event)

        if await self.outbox.send(event, produce):
            await super().status(event)


class Crash(Exception):
    """The worker dies here: the phase is not recorded (the in-flight guard logs it)."""


def owner(settings: Settings, log: Log, memory: Memory) -> StatusOutbox:
    return StatusOutbox(
        status_topic=TOPIC,  # the Log's status topic
        source_topics=frozenset({settings.topic_whatsapp_dispatch}),
        partitions=PARTITIONS,
        reader=log,
        checkpoints=memory,
        flush_interval=3600,
    )


@pytest_asyncio.fixture
async def settings(redis_url: str, redis: Redis, test_secret_key: str, tmp_path: Path) -> Settings:
    cfg = wppconnect_settings(tmp_path, redis_url=redis_url, secret_key=test_secret_key)
    await seed_integrations(redis, cfg, ACME_SESSION)
    return cfg


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    yield FakeWhatsApp()


async def test_a_sent_produced_before_a_crash_is_not_produced_again(
    settings: Settings, redis: Redis, fake: FakeWhatsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, memory = Log(), Memory()
    sink, wa = OutboxSink(log), MemoryWhatsAppSink()
    herald = create_app(settings, "whatsapp", sink=sink)
    runtime: Any = herald.runtime
    runtime.driver_factory = fake.factory
    runtime.whatsapp_sink_override = wa
    state = NotificationState(redis, ttl_seconds=3600, correlation_ttl_seconds=3600)
    request = NotificationRequest.model_validate(
        {
            "id": f"n-{uuid.uuid4()}",
            "tenantId": "acme",
            "channel": "whatsapp",
            "provider": "wppconnect",
            "recipient": {"phone": "+5511999990001"},
            "content": {"body": "hi"},
        }
    )
    await state.claim("acme", request.id)
    await state.set_phase("acme", request.id, "dispatched")
    seen: list[tuple[str, int]] = []
    first = owner(settings, log, memory)
    sink.outbox = runtime.outbox = first  # before start: the dispatcher takes the runtime's
    agent = herald.app.agents["whatsapp-dispatch"]
    async with agent.test_context() as dispatch:
        tracked = first.tracked

        def spy(topic: str, partition: int, *args: Any) -> Any:
            seen.append((topic, partition))
            return tracked(topic, partition, *args)

        monkeypatch.setattr(first, "tracked", spy)
        await first.assign([TP(settings.topic_whatsapp_dispatch, p) for p in range(PARTITIONS)])
        await runtime.start()
        assert runtime.dispatcher.outbox is first
        real_set_phase = runtime.dispatcher.state.set_phase
        crashed = asyncio.Event()

        async def dies_before_recording(tenant: str, nid: str, phase: str, **kw: Any) -> None:
            if phase == "sent" and not crashed.is_set():
                crashed.set()
                raise Crash
            await real_set_phase(tenant, nid, phase, **kw)

        monkeypatch.setattr(runtime.dispatcher.state, "set_phase", dies_before_recording)
        await dispatch.put(key=b"acme", value=request.to_json())
        async with asyncio.timeout(10):
            await wa.wait_for(lambda w: w.qrs)
        fake.latest("acme").scan()
        async with asyncio.timeout(10):
            await sink.wait_for(lambda s: s.of(request.id))
            await crashed.wait()
        assert seen[0][0] == settings.topic_whatsapp_dispatch

        # The next owner of the dispatch partition replays the record.
        second = owner(settings, log, memory)
        sink.outbox = runtime.dispatcher.outbox = second
        await second.assign([TP(settings.topic_whatsapp_dispatch, p) for p in range(PARTITIONS)])
        await dispatch.put(key=b"acme", value=request.to_json())
        marker = NotificationRequest.model_validate(
            {
                **request.model_dump(by_alias=True),
                "id": f"m-{uuid.uuid4()}",
                "content": {"body": "m"},
            }
        )
        await state.claim("acme", marker.id)
        await state.set_phase("acme", marker.id, "dispatched")
        await dispatch.put(key=b"acme", value=marker.to_json())
        async with asyncio.timeout(10):  # same tenant: after the replayed record
            await sink.wait_for(lambda s: s.of(marker.id))
        assert second.skipped == 1
    await runtime.stop()
    sent = [e for e in sink.statuses if e.notification_id == request.id]
    assert [e.status for e in sent] == [Status.SENT]
    assert log.ids()[sent[0].event_id] == 1
    assert [m.args[0] for m in fake.sent] == ["hi", "m"]  # sent once, and the marker
