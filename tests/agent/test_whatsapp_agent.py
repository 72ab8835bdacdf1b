"""The WhatsApp worker's agents under ``agent.test_context()``: no broker, no browser (a
fake page), a real redis-server, :class:`MemorySink` and :class:`MemoryWhatsAppSink`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest_asyncio
from redis.asyncio import Redis

from schemas import NotificationRequest, Status
from streams.pipeline.state import NotificationState
from streams.platform.app import create_app
from streams.platform.sink import MemorySink
from streams.whatsapp import MemoryWhatsAppSink
from tests.unit.whatsapp.fakes import FakeWhatsApp
from tests.whatsapp_web import ACME_SESSION, seed_integrations, wppconnect_settings


@dataclass
class Harness:
    dispatch: Any
    commands: Any
    sink: MemorySink
    wa: MemoryWhatsAppSink
    fake: FakeWhatsApp
    state: NotificationState

    async def dispatched(self, tenant: str = "acme", **content: Any) -> NotificationRequest:
        """A request as the router hands it over: accepted, phase dispatched, on the topic."""
        request = NotificationRequest.model_validate(
            {
                "id": f"n-{uuid.uuid4()}",
                "tenantId": tenant,
                "channel": "whatsapp",
                "provider": "wppconnect",
                "recipient": {"phone": content.pop("phone", "+5511999990001")},
                "content": content or {"body": "hi"},
                "metadata": {"k": 1},
            }
        )
        await self.state.claim(tenant, request.id)
        await self.state.mark_accepted(
            tenant, request.id, channel="whatsapp", provider="wppconnect", metadata={"k": 1}
        )
        await self.state.set_phase(tenant, request.id, "dispatched")
        await self.dispatch.put(key=tenant.encode(), value=request.to_json())
        return request

    async def statuses(self, nid: str, *wanted: Status) -> list[Status]:
        async with asyncio.timeout(10):
            await self.sink.wait_for(lambda s: set(wanted) <= {e.status for e in s.of(nid)})
        return [e.status for e in self.sink.of(nid)]


@pytest_asyncio.fixture
async def harness(
    redis_url: str, redis: Redis, test_secret_key: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    cfg = wppconnect_settings(tmp_path, redis_url=redis_url, secret_key=test_secret_key)
    await seed_integrations(redis, cfg, ACME_SESSION)
    sink, wa, fake = MemorySink(), MemoryWhatsAppSink(), FakeWhatsApp()
    herald = create_app(cfg, "whatsapp", sink=sink)
    runtime: Any = herald.runtime
    runtime.driver_factory = fake.factory
    runtime.whatsapp_sink_override = wa
    state = NotificationState(redis, ttl_seconds=3600, correlation_ttl_seconds=3600)
    async with (
        herald.app.agents["whatsapp-dispatch"].test_context() as dispatch,
        herald.app.agents["whatsapp-commands"].test_context() as commands,
    ):
        yield Harness(dispatch, commands, sink, wa, fake, state)
        await runtime.stop()


async def until_qr(h: Harness, count: int = 1) -> None:
    async with asyncio.timeout(10):
        await h.wa.wait_for(lambda w: len(w.qrs) >= count)


async def test_waiting_messages_go_out_in_order_after_the_scan(harness: Harness) -> None:
    h = harness
    first = await h.dispatched(body="one")
    second = await h.dispatched(body="two")
    await until_qr(h)
    assert h.wa.qrs[0].session == "tenant-acme"
    assert h.wa.qrs[0].tenant_id == "acme"
    assert h.sink.statuses == []  # both wait for the scan
    h.fake.latest("acme").scan()
    assert await h.statuses(first.id, Status.SENT) == [Status.SENT]
    assert await h.statuses(second.id, Status.SENT) == [Status.SENT]
    assert [s.args[0] for s in h.fake.sent] == ["one", "two"]
    sent = h.sink.of(first.id)[0]
    assert sent.provider == "wppconnect"
    assert sent.metadata == {"k": 1}
    assert sent.provider_message_id == h.fake.sent[0].message_id
    assert h.wa.statuses("acme") == ["notLogged", "qrReadSuccess", "inChat"]

    # Acks, including a repeated and a late one: each status once, never backwards.
    driver = h.fake.latest("acme")
    pmid = sent.provider_message_id
    for ack in (1, 2, 2, 4, 3):
        driver.emit("chat.msg_ack_change", {"ack": ack, "chat": "x", "ids": [pmid]})
    await h.statuses(first.id, Status.READ)
    assert [e.status for e in h.sink.of(first.id)] == [Status.SENT, Status.DELIVERED, Status.READ]
    assert h.sink.of(first.id)[-1].metadata == {"k": 1, "played": True}

    # Incoming messages go to whatsapp.inbound; the session's own do not.
    driver.emit(
        "chat.new_message",
        {"id": "false_1@c.us_AB", "from": "1@c.us", "type": "chat", "body": "yo", "t": 1700000000},
    )
    async with asyncio.timeout(10):
        [message] = await h.wa.wait_for(lambda w: w.messages)
    assert (message.from_, message.body, message.message_id) == ("1@c.us", "yo", "false_1@c.us_AB")


async def test_replayed_dispatch_records_send_nothing_twice(harness: Harness) -> None:
    h = harness
    h.fake.not_on_whatsapp.add("5511977776666")
    request = await h.dispatched()
    nowhere = await h.dispatched(phone="+55 11 97777-6666")
    await until_qr(h)
    h.fake.latest("acme").scan()
    await h.statuses(request.id, Status.SENT)
    failed = await h.statuses(nowhere.id, Status.FAILED)
    assert failed == [Status.FAILED]
    assert h.sink.of(nowhere.id)[0].error.code == "not_on_whatsapp"  # type: ignore[union-attr]
    # The same records again (a rebalance replays uncommitted offsets) ...
    await h.dispatch.put(key=b"acme", value=request.to_json())
    await h.dispatch.put(key=b"acme", value=nowhere.to_json())
    marker = await h.dispatched(body="marker")
    await h.statuses(marker.id, Status.SENT)  # same tenant: processed after the replays
    assert [s.args[0] for s in h.fake.sent] == ["hi", "marker"]
    assert h.sink.of(request.id)[-1].status == Status.SENT
    assert len(h.sink.of(request.id)) == 1
    assert len(h.sink.of(nowhere.id)) == 1


async def test_commands_and_dead_letters(harness: Harness) -> None:
    h = harness
    await h.commands.put(key=b"acme", value=b"\xff not a command")
    await h.commands.put(
        key=b"acme", value=orjson.dumps({"tenantId": "acme", "command": "connect"})
    )
    await until_qr(h)
    assert len(h.sink.dead_letters) == 1
    h.fake.latest("acme").scan()
    async with asyncio.timeout(10):
        await h.wa.wait_for(lambda w: "inChat" in w.statuses("acme"))
    await h.commands.put(key=b"acme", value=orjson.dumps({"tenantId": "acme", "command": "logout"}))
    async with asyncio.timeout(10):
        await h.wa.wait_for(lambda w: "deleteToken" in w.statuses("acme"))
    assert h.wa.statuses("acme")[-2:] == ["browserClose", "deleteToken"]
    await h.commands.put(key=b"acme", value=orjson.dumps({"tenantId": "acme", "command": "status"}))
    async with asyncio.timeout(10):
        await h.wa.wait_for(lambda w: w.statuses("acme").count("deleteToken") == 2)
