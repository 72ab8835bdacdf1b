"""The session event stream's logic against a real redis-server (no broker, no browser).

The owning worker's sink publishes (``PublishingSink``); another process's stream
(``LiveEvents``) delivers: the current state first, then each event, within the tenant's
budget of QR reads and open streams, and only with the tenant's own key.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson
import pytest
from redis.asyncio import Redis

from providers.wppconnect import render_qr
from schemas.whatsapp import ConnectionState, QrCodeEvent, SessionStateEvent, SessionStatus
from seeds import load_seeds
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.webhooks import WebhookResponse
from streams.whatsapp import (
    MemoryWhatsAppSink,
    SessionRef,
    SessionStore,
    tenant_sessions,
)
from streams.whatsapp.feed import PublishingSink, SessionFeed, events_channel
from streams.whatsapp.live import LiveEvents, LiveStream, StreamSlots
from streams.whatsapp.store import qr_ref
from tests.integration.whatsapp.endpoints import bearer, keyed_endpoints, worker_store

pytestmark = pytest.mark.integration


@dataclass
class World:
    live: LiveEvents
    sink: PublishingSink
    store: SessionStore
    keys: dict[str, str]
    redis: Redis
    integrations: IntegrationStore | None = None
    streams: list[Reader] = field(default_factory=list)

    def bearer(self, tenant: str) -> dict[str, str]:
        return bearer(self.keys[tenant])


@asynccontextmanager
async def world(
    redis: Redis,
    *,
    max_streams: int = 3,
    qr_reads_per_minute: float = 600.0,
    integrations: bool = False,
) -> AsyncIterator[World]:
    """``integrations``: the tenants' sessions come from their integrations (as on a
    worker, ``selection.tenant_sessions``), else each tenant has its first session only."""
    cipher = Cipher(os.urandom(32))
    lister = None
    stored: IntegrationStore | None = None
    if integrations:
        await load_seeds(redis)
        lookups = LookupsService(redis)
        await lookups.load()
        stored = IntegrationStore(redis, cipher)

        async def lister_(tenant_id: str) -> list[SessionRef]:
            assert stored is not None
            return await tenant_sessions(tenant_id, lookups, stored)

        lister = lister_
    store = worker_store(redis, cipher)

    async def produce(command: object) -> None:
        raise AssertionError("no command in these tests")

    endpoints, created = await keyed_endpoints(
        redis, store, produce, qr_reads_per_minute=qr_reads_per_minute, list_sessions=lister
    )
    feed = SessionFeed(redis, cipher)  # the web process's side
    live = LiveEvents(
        endpoints=endpoints,
        feed=feed,
        slots=StreamSlots(redis, limit=max_streams, heartbeat=0.3),
        heartbeat=0.3,
        poll=0.05,
    )
    sink = PublishingSink(MemoryWhatsAppSink(), redis, cipher)  # the owning worker's side
    w = World(live, sink, store, created, redis, stored)
    try:
        yield w
    finally:
        for reader in w.streams:
            await reader.close()
        await feed.close()


class Reader:
    """Reads one stream's frames in a task, as a web handler would write them."""

    def __init__(self, stream: LiveStream) -> None:
        self.stream = stream
        self.connected = True
        self.frames: list[tuple[str, dict[str, object] | None]] = []
        self.comments = 0
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with self.stream:
            async for raw in self.stream.frames(lambda: self.connected):
                text = raw.decode()
                if text.startswith(":"):
                    self.comments += 1
                elif text.startswith("event: "):
                    head, data = text.strip().split("\n")
                    self.frames.append(
                        (head[len("event: ") :], orjson.loads(data[len("data: ") :]))
                    )
                self._changed.set()

    def events(self) -> list[str]:
        return [name for name, _ in self.frames]

    async def wait_for(self, predicate: object, within: float = 10.0) -> None:
        assert callable(predicate)
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        self.connected = False
        await asyncio.wait_for(self.task, 10)


async def open_stream(w: World, tenant: str = "acme") -> Reader:
    opened = await w.live.open(tenant, w.bearer(tenant))
    assert isinstance(opened, LiveStream), getattr(opened, "body", opened)
    reader = Reader(opened)
    w.streams.append(reader)
    return reader


async def status(w: World, tenant: str, value: SessionStatus, **extra: str) -> None:
    """What ``SessionEvents.on_status`` does: the hash, then the sink."""
    await w.store.record_status(tenant, f"tenant-{tenant}", value.value, **extra)
    await w.sink.state(
        SessionStateEvent(tenant_id=tenant, session=f"tenant-{tenant}", status=value, **extra)
    )


@pytest.mark.redis_cluster
async def test_current_state_first_then_each_event(redis: Redis) -> None:
    async with world(redis) as w:
        qr = render_qr("2@first,a,b,c", attempts=1, ttl_ms=60000)
        await w.store.put_qr("acme", qr, 60000)
        await w.store.record_status("acme", "tenant-acme", "notLogged")
        await w.store.record_state("acme", "tenant-acme", "UNPAIRED")

        # A page that opens late is not blank: status, state and the QR code on screen now.
        reader = await open_stream(w)
        await reader.wait_for(lambda: len(reader.frames) >= 3)
        assert reader.events() == ["status", "state", "qr"]
        (_, first), (_, second), (_, shown) = reader.frames
        assert first is not None
        assert second is not None
        assert shown is not None
        assert (first["status"], second["state"]) == ("notLogged", "UNPAIRED")
        assert (shown["urlCode"], shown["qrRef"]) == (qr.url_code, qr_ref(qr.url_code))
        assert shown["qrCode"] == qr.qr_code

        # Then live: the next QR code, the scan, the connection -- as the worker emits them.
        rotated = render_qr("2@second,a,b,c", attempts=2, ttl_ms=60000)
        await w.sink.qr(
            QrCodeEvent(
                tenant_id="acme",
                session="tenant-acme",
                qr_ref=qr_ref(rotated.url_code),
                **rotated.model_dump(),
            )
        )
        await status(w, "acme", SessionStatus.QR_READ_SUCCESS)
        await w.sink.state(
            SessionStateEvent(
                tenant_id="acme", session="tenant-acme", state=ConnectionState.CONNECTED
            )
        )
        await status(w, "acme", SessionStatus.IN_CHAT, phone="5511988887777")
        await reader.wait_for(lambda: len(reader.frames) >= 7)
        assert reader.events()[3:] == ["qr", "status", "state", "status"]
        assert reader.frames[3][1] is not None
        assert reader.frames[3][1]["urlCode"] == rotated.url_code
        last = reader.frames[6][1]
        assert last is not None
        assert (last["status"], last["phone"]) == ("inChat", "5511988887777")

        # Another tenant's events never reach this stream.
        await status(w, "globex", SessionStatus.NOT_LOGGED)
        await status(w, "acme", SessionStatus.PHONE_NOT_CONNECTED)
        await reader.wait_for(lambda: len(reader.frames) >= 8)
        assert [f[1]["tenantId"] for f in reader.frames if f[1]] == ["acme"] * 8

        # Idle: keep-alive comments (every heartbeat, 0.3 s here).
        await reader.wait_for(lambda: reader.comments >= 2)


async def test_every_session_of_the_tenant_in_the_snapshot(redis: Redis) -> None:
    """Several numbers per tenant: the stream starts with each of the tenant's sessions
    (the default first), each naming itself; a reference-mode QR event of one session is
    completed with that session's code, not the tenant's first session's."""
    async with world(redis, integrations=True) as w:
        stored = w.integrations
        assert stored is not None
        await stored.set("acme", "wppconnect", {"sessionName": "support", "phoneNumberId": "p1"})
        await stored.set(
            "acme", "wppconnect", {"sessionName": "sales", "phoneNumberId": "p2"}, is_default=True
        )
        # support is the first session (sid acme), sales a further one (sid acme@sales).
        support_qr = render_qr("2@support,a,b,c", attempts=1, ttl_ms=60000)
        await w.store.put_qr("acme", support_qr, 60000)
        await w.store.record_status("acme", "tenant-acme", "notLogged", session_name="support")
        await w.store.record_state("acme", "tenant-acme", "UNPAIRED", session_name="support")
        await w.store.record_status(
            "acme@sales", "tenant-acme@sales", "inChat", phone="5511922220002", session_name="sales"
        )

        reader = await open_stream(w)
        await reader.wait_for(lambda: len(reader.frames) >= 4)
        await reader.wait_for(lambda: reader.comments >= 1)  # and nothing more
        named = [(e, d["session"], d["sessionName"]) for e, d in reader.frames if d]
        assert named == [
            ("status", "tenant-acme@sales", "sales"),  # the default session first
            ("status", "tenant-acme", "support"),
            ("state", "tenant-acme", "support"),
            ("qr", "tenant-acme", "support"),
        ]
        sales, shown = (reader.frames[i][1] or {} for i in (0, 3))
        assert (sales["status"], sales["phone"]) == ("inChat", "5511922220002")
        # Not the default session: its QR URL names it.
        assert (shown["urlCode"], shown["qrUrl"]) == (
            support_qr.url_code,
            "/webhooks/wppconnect/qr/acme?session=support",
        )

        # The sales number is logged out and shows a QR code, published as a reference.
        sales_qr = render_qr("2@sales,a,b,c", attempts=1, ttl_ms=60000)
        await w.store.put_qr("acme@sales", sales_qr, 60000)
        await w.sink.qr(
            QrCodeEvent(
                tenant_id="acme",
                session="tenant-acme@sales",
                session_name="sales",
                expires_at=sales_qr.expires_at,
                attempts=1,
                qr_ref=qr_ref(sales_qr.url_code),
                qr_url="/webhooks/wppconnect/qr/acme",
            )
        )
        await reader.wait_for(lambda: len(reader.frames) >= 5)
        event, filled = reader.frames[4]
        assert (event, (filled or {}).get("urlCode")) == ("qr", sales_qr.url_code)


async def test_logged_in_snapshot_leaves_out_a_stale_qr(redis: Redis) -> None:
    async with world(redis) as w:
        await w.store.put_qr("acme", render_qr("2@old,a,b,c", attempts=3, ttl_ms=60000), 60000)
        await w.store.record_status("acme", "tenant-acme", "inChat", phone="5511988887777")
        reader = await open_stream(w)
        await reader.wait_for(lambda: reader.comments >= 1)
        assert reader.events() == ["status"]


async def test_reference_mode_and_pairing_codes(redis: Redis) -> None:
    """A ``whatsapp.qr`` event without material (WHATSAPP_WPPCONNECT_QR_PUBLISH=reference)
    is completed from the sealed copy; one carrying ``pairingCode`` (link by phone number)
    is a ``pairingCode`` event."""
    async with world(redis) as w:
        reader = await open_stream(w)
        await reader.wait_for(lambda: reader.comments >= 1)
        assert reader.frames == []  # nothing stored yet: nothing to show
        qr = render_qr("2@ref,a,b,c", attempts=1, ttl_ms=60000)
        await w.store.put_qr("acme", qr, 60000)
        await w.sink.qr(
            QrCodeEvent(
                tenant_id="acme",
                session="tenant-acme",
                expires_at=qr.expires_at,
                attempts=1,
                qr_ref=qr_ref(qr.url_code),
                qr_url="/webhooks/wppconnect/qr/acme",
            )
        )
        pairing = {
            "tenantId": "acme",
            "session": "tenant-acme",
            "sessionName": "support",
            "pairingCode": "ABCD-EFGH",
            "expiresAt": "2030-01-01T00:00:00Z",
            "attempts": 1,
        }
        await w.sink.publish("qr", "acme", orjson.dumps(pairing))
        await reader.wait_for(lambda: len(reader.frames) >= 2)
        (first, shown), (second, code) = reader.frames
        assert (first, second) == ("qr", "pairingCode")
        assert shown is not None
        assert (shown["urlCode"], shown["qrCode"]) == (qr.url_code, qr.qr_code)
        assert code == pairing


async def test_the_tenants_key_only_and_the_budgets(redis: Redis) -> None:
    async with world(redis, max_streams=2, qr_reads_per_minute=0.5) as w:
        live = w.live
        assert (await live.open("acme", {})).status == 401
        assert (await live.open("acme", {"X-Api-Key": "hrk_nope"})).status == 401
        other = await live.open("acme", w.bearer("globex"))
        assert isinstance(other, WebhookResponse)
        assert other.status == 403
        assert "another tenant" in other.body
        assert (await live.open("bad/tenant", w.bearer("acme"))).status == 400

        # At most two open streams per tenant (counted in Redis, so across workers).
        first = await open_stream(w)
        await open_stream(w)
        full = await live.open("acme", w.bearer("acme"))
        assert isinstance(full, WebhookResponse)
        assert full.status == 429
        assert int(full.headers["Retry-After"]) >= 1
        # A closed stream gives its place back at once.
        await first.close()
        assert await redis.zcard(StreamSlots.key("acme")) == 1
        await open_stream(w)

        # Opening a stream reads the QR code: the QR endpoint's budget (burst 5) applies.
        # Four taken above (first, second, the refused one, third); one left.
        await w.streams.pop().close()
        await open_stream(w)
        await w.streams.pop().close()
        limited = await live.open("acme", w.bearer("acme"))
        assert isinstance(limited, WebhookResponse)
        assert limited.status == 429
        assert "QR" in limited.body
        # Globex has budgets of its own.
        await open_stream(w, "globex")


async def test_a_stream_outlives_a_lost_redis_connection(redis: Redis) -> None:
    """Pub/sub keeps nothing: after the feed's connection is killed, the stream is sent
    the stored state again and follows the events published after the reconnection."""
    async with world(redis) as w:
        await w.store.record_status("acme", "tenant-acme", "notLogged")
        reader = await open_stream(w)
        await reader.wait_for(lambda: reader.events() == ["status"])
        killed = await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert int(killed) >= 1
        await reader.wait_for(lambda: len(reader.frames) >= 2, within=15)  # the resync
        assert reader.events() == ["status", "status"]
        await status(w, "acme", SessionStatus.QR_READ_SUCCESS)
        await reader.wait_for(lambda: len(reader.frames) >= 3)
        assert reader.frames[2][1] is not None
        assert reader.frames[2][1]["status"] == "qrReadSuccess"


async def test_a_departed_client_frees_the_channel(redis: Redis) -> None:
    async with world(redis) as w:
        reader = await open_stream(w)
        await reader.wait_for(lambda: reader.comments >= 1)
        assert w.live.feed.tenants() == ["acme"]
        subscribed = await redis.execute_command("PUBSUB", "NUMSUB", events_channel("acme"))
        assert int(subscribed[1]) == 1
        await reader.close()  # the client went away: the stream ends within a poll
        w.streams.remove(reader)
        assert w.live.feed.tenants() == []
        assert await redis.zcard(StreamSlots.key("acme")) == 0


async def test_a_dead_workers_streams_stop_counting(redis: Redis) -> None:
    """A worker that died holds its places for three heartbeats at most."""
    async with world(redis, max_streams=1) as w:
        key = StreamSlots.key("acme")
        now_ms = int(time.time() * 1000)
        await redis.zadd(key, {"on-another-worker": now_ms})
        full = await w.live.open("acme", w.bearer("acme"))
        assert isinstance(full, WebhookResponse)
        assert full.status == 429
        await redis.zadd(key, {"on-another-worker": now_ms - 1000})  # 3 heartbeats: 0.9 s
        reader = await open_stream(w)
        await reader.wait_for(lambda: reader.comments >= 2)  # refreshed, still one place
        assert await redis.zrange(key, 0, -1) != [b"on-another-worker"]
        assert await redis.zcard(key) == 1
