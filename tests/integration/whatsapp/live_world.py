"""The world of the session event stream's tests (test_session_events.py,
test_session_event_limits.py): a real Redis, the owning worker's sink publishing
(``PublishingSink``) and another process's stream (``LiveEvents``) delivering, read by
``Reader`` as a client would."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson
from redis.asyncio import Redis

from schemas.whatsapp import QrCode, QrCodeEvent, SessionStateEvent, SessionStatus
from seeds import load_seeds
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.whatsapp import MemoryWhatsAppSink, SessionRef, SessionStore, tenant_sessions
from streams.whatsapp.feed import PublishingSink, SessionFeed
from streams.whatsapp.live import LiveEvents, LiveStream, StreamSlots
from streams.whatsapp.store import qr_ref
from tests.integration.whatsapp.endpoints import bearer, keyed_endpoints, worker_store


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


async def publish_by_reference(
    w: World, sid: str, qr: QrCode, session_name: str | None = None
) -> None:
    """``qr`` stored for acme's session ``sid`` and published without its material, as
    the owning worker does with WHATSAPP_WPPCONNECT_QR_PUBLISH=reference."""
    await w.store.put_qr(sid, qr, 60000)
    await w.sink.qr(
        QrCodeEvent(
            tenant_id="acme",
            session=f"tenant-{sid}",
            expires_at=qr.expires_at,
            attempts=qr.attempts,
            qr_ref=qr_ref(qr.url_code),
            qr_url="/webhooks/wppconnect/qr/acme",
            session_name=session_name,
        )
    )
