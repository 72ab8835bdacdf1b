"""``GET /webhooks/wppconnect/session/{tenantId}/events``: a tenant's session events as
server-sent events, for a UI that should not consume Kafka.

* The same authentication as the other session endpoints (a ``session`` key of that
  tenant: 401, 403), and the same budget as ``GET .../qr`` (opening a stream reads the
  current QR code: 429 with ``Retry-After`` past ``WHATSAPP_WPPCONNECT_QR_READS_PER_MINUTE``).
* At most ``WHATSAPP_WPPCONNECT_EVENTS_MAX_STREAMS`` open streams per tenant, across all
  workers (:class:`StreamSlots`; one more is 429).
* First the current state from Redis (a ``status``, a ``state`` and the ``qr`` when the
  session has them), then every event as the owning worker produces it
  (:mod:`streams.whatsapp.feed`): ``qr``, ``pairingCode``, ``status``, ``state``. Each
  ``data`` is the JSON of the event on ``whatsapp.qr`` / ``whatsapp.state``, with the QR
  material even when the topic carries only a reference.
* A comment every ``WHATSAPP_WPPCONNECT_EVENTS_HEARTBEAT_SECONDS`` keeps proxies from
  closing an idle stream; a stream ends when its client goes away or the worker stops.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from redis.asyncio import Redis

from streams.webhooks import WebhookResponse
from streams.whatsapp.endpoints import SessionEndpoints, json_answer
from streams.whatsapp.feed import RESYNC, FeedEvent, SessionFeed, Subscription
from streams.whatsapp.naming import SessionRef, tenant_of
from streams.whatsapp.store import LOGGED_IN
from streams.whatsapp.tokens import session_name

__all__ = ["SSE_HEADERS", "LiveEvents", "LiveStream", "StreamSlots", "sse_frame"]

#: Headers of a stream: no caching, no buffering by nginx-like proxies.
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",
    "X-Content-Type-Options": "nosniff",
}
#: How long a client waits before reconnecting after the stream broke (the SSE ``retry``).
RETRY_MS = 3000

# KEYS: the tenant's streams (sorted set, member -> last heartbeat ms).
# ARGV: now ms, stale before ms, limit, member, key ttl ms.  -> 1 taken, 0 full
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


def sse_frame(event: str, data: Mapping[str, Any]) -> bytes:
    """One server-sent event; the JSON is on one line (orjson escapes newlines)."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _qr_url(ref: SessionRef) -> str:
    """Where the session's QR code is read: ``?session=`` unless it is the default one
    (as on the ``whatsapp.qr`` events, ``events.qr_url``)."""
    url = f"/webhooks/wppconnect/qr/{ref.tenant_id}"
    if ref.session_name and (ref.sid != ref.tenant_id or not ref.is_default):
        url += f"?session={quote(ref.session_name, safe='')}"
    return url


def _sid_of(session: Any) -> str | None:
    """The session id of an event's ``session`` (``tenant-{sid}``, ``tokens.session_name``)."""
    prefix = session_name("")
    if not isinstance(session, str) or not session.startswith(prefix):
        return None
    return session[len(prefix) :] or None


def _now_ms() -> int:
    return int(time.time() * 1000)


class StreamSlots:
    """Open streams per tenant, counted in Redis so that the bound holds across workers.

    Each stream holds a member of ``wppconnect:streams:{tenantId}`` scored with its last
    heartbeat; a member not refreshed for three heartbeats (a worker that died) no longer
    counts.
    """

    def __init__(self, redis: Redis, *, limit: int, heartbeat: float) -> None:
        self._redis = redis
        self.limit = limit
        self._stale_ms = int(heartbeat * 3000)
        self._acquire = redis.register_script(_ACQUIRE)

    @staticmethod
    def key(tenant_id: str) -> str:
        return f"wppconnect:streams:{tenant_id}"

    async def acquire(self, tenant_id: str) -> str | None:
        member = secrets.token_hex(8)
        now = _now_ms()
        taken = await self._acquire(
            keys=[self.key(tenant_id)],
            args=[now, now - self._stale_ms, self.limit, member, self._stale_ms * 2],
        )
        return member if int(taken) else None

    async def refresh(self, tenant_id: str, member: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.key(tenant_id), {member: _now_ms()}, xx=True)
            pipe.pexpire(self.key(tenant_id), self._stale_ms * 2)
            await pipe.execute()

    async def release(self, tenant_id: str, member: str) -> None:
        await self._redis.zrem(self.key(tenant_id), member)


@dataclass
class LiveEvents:
    endpoints: SessionEndpoints
    feed: SessionFeed
    slots: StreamSlots
    heartbeat: float = 15.0
    #: How often a stream checks that its client is still there.
    poll: float = 1.0

    async def open(
        self, tenant_id: str, headers: Mapping[str, str]
    ) -> WebhookResponse | LiveStream:
        """The stream, or the answer refusing it (400, 401, 403, 429, 503)."""
        denied = await self.endpoints.authorize(tenant_id, headers)
        if denied is not None:
            return denied
        if self.feed.closed:
            return json_answer(503, {"error": "the worker is stopping"}, {"Retry-After": "5"})
        limited = await self.endpoints.take_qr_read(tenant_id)
        if limited is not None:
            return limited
        member = await self.slots.acquire(tenant_id)
        if member is None:
            return json_answer(
                429,
                {"error": f"at most {self.slots.limit} event streams per tenant"},
                {"Retry-After": str(max(1, round(self.heartbeat)))},
            )
        return LiveStream(self, tenant_id, member)


class LiveStream:
    """One open stream: ``async with stream: async for frame in stream.frames(alive)``."""

    def __init__(self, live: LiveEvents, tenant_id: str, member: str) -> None:
        self._live = live
        self.tenant_id = tenant_id
        self._member = member

    async def __aenter__(self) -> LiveStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._live.slots.release(self.tenant_id, self._member)

    async def frames(self, alive: Callable[[], bool]) -> AsyncIterator[bytes]:
        """The frames to write, until ``alive()`` is false or the feed closes."""
        live = self._live
        yield f"retry: {RETRY_MS}\n\n".encode()
        async with live.feed.subscribe(self.tenant_id) as subscription:
            for frame in await self._snapshot():
                yield frame
            async for frame in self._follow(subscription, alive):
                yield frame

    async def _follow(
        self, subscription: Subscription, alive: Callable[[], bool]
    ) -> AsyncIterator[bytes]:
        live = self._live
        last_write = last_refresh = time.monotonic()
        while alive() and not live.feed.closed:
            item = await subscription.next(live.poll)
            now = time.monotonic()
            if now - last_refresh >= live.heartbeat:  # busy or idle, the place stays held
                await live.slots.refresh(self.tenant_id, self._member)
                last_refresh = now
            if item is None:
                if now - last_write >= live.heartbeat:
                    last_write = now
                    yield b": keep-alive\n\n"
                continue
            frames = await self._snapshot() if item == RESYNC else await self._frames(item)
            for frame in frames:
                last_write = time.monotonic()
                yield frame

    async def _snapshot(self) -> list[bytes]:
        """Every session's state as stored, the default session first: a late page is
        not blank, and a tenant with several numbers sees each of them at once."""
        frames: list[bytes] = []
        for ref in await self._live.endpoints.sessions(self.tenant_id):
            frames.extend(await self._session_snapshot(ref))
        return frames

    async def _session_snapshot(self, ref: SessionRef) -> list[bytes]:
        store = self._live.endpoints.store
        view = await store.get_session(ref.sid)
        base: dict[str, Any] = {
            "tenantId": self.tenant_id,
            "session": (view or {}).get("session") or session_name(ref.sid),
        }
        name = (view or {}).get("sessionName") or ref.session_name
        if name:
            base["sessionName"] = name
        frames: list[bytes] = []
        if view is not None:
            if view.get("status"):
                status = {**base, "status": view["status"], "timestamp": view.get("since")}
                for field in ("phone", "detail"):
                    if view.get(field):
                        status[field] = view[field]
                frames.append(sse_frame("status", status))
            if view.get("state"):
                state = {**base, "state": view["state"], "timestamp": view.get("stateSince")}
                frames.append(sse_frame("state", state))
            if view.get("status") in LOGGED_IN:
                return frames  # a QR code left in Redis is of no use any more
        qr = await store.get_qr(ref.sid)
        if qr is not None:
            frames.append(sse_frame("qr", {**base, **qr, "qrUrl": _qr_url(ref)}))
        return frames

    async def _frames(self, event: FeedEvent) -> list[bytes]:
        data = event.data
        if data.get("tenantId") != self.tenant_id:
            return []  # sealed for this tenant, so never; cheap to make sure
        if event.kind == "qr":
            if data.get("pairingCode"):
                return [sse_frame("pairingCode", data)]
            if not data.get("urlCode"):  # a reference (WHATSAPP_WPPCONNECT_QR_PUBLISH)
                sid = _sid_of(data.get("session"))
                if sid is None or tenant_of(sid) != self.tenant_id:
                    return []
                stored = await self._live.endpoints.store.get_qr(sid)
                if stored is None:
                    return []
                data = {**data, **stored}
            return [sse_frame("qr", data)]
        frames = []
        if data.get("status"):
            frames.append(sse_frame("status", data))
        if data.get("state"):
            frames.append(sse_frame("state", data))
        return frames
