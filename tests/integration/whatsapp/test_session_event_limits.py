"""The session event stream's limits against a real redis-server (no broker, no browser):
only with the tenant's own key, within its budget of QR reads and open streams, through a
lost Redis connection, a departed client and a dead worker's places."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from schemas.whatsapp import SessionStatus
from streams.webhooks import WebhookResponse
from streams.whatsapp.feed import events_channel
from streams.whatsapp.live import StreamSlots
from tests.integration.whatsapp.live_world import open_stream, status, world

pytestmark = pytest.mark.integration


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
