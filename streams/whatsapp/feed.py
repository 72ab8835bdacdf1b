"""Live session events for any web process: a Redis pub/sub channel per tenant.

A session lives on one WhatsApp worker, but a tenant's browser may reach any worker's
web server (``GET /webhooks/wppconnect/session/{tenantId}/events``). The owning worker
therefore publishes each event it produces to ``whatsapp.qr`` and ``whatsapp.state``, once
the broker has it, on the channel ``wppconnect:events:{tenantId}`` too
(:class:`PublishingSink`); every web process keeps one pub/sub connection
(:class:`SessionFeed`), subscribed to a tenant's channel while it serves a stream of that
tenant, and fans the events out to those streams.

Why pub/sub and not a consumer of the topics: a consumer in every web process would read
every tenant's records, and a late one would start from an offset that says nothing about
the session's current state. Pub/sub costs one connection per process and delivers only the
tenants somebody follows; it keeps nothing, so a stream starts from the state stored in
Redis (``streams.whatsapp.store``) and starts again from it whenever messages may have been
missed (a lost Redis connection, a stream too slow to keep up: :data:`RESYNC`). The
messages carry pairing material, so they are sealed like the stored QR copy: AES-GCM under
``HERALD_SECRET_KEY``, bound to the tenant. Without a key nothing is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.whatsapp import InboundMessage, QrCodeEvent, SessionStateEvent
from streams.tenancy.crypto import Cipher, CryptoError
from streams.whatsapp.events import WhatsAppSink

__all__ = [
    "RESYNC",
    "FeedEvent",
    "PublishingSink",
    "SessionFeed",
    "Subscription",
    "events_channel",
]

log = logging.getLogger(__name__)

Kind = Literal["qr", "state"]

#: Put in a subscription's queue when events may have been missed: send the state again.
RESYNC: Literal["resync"] = "resync"

#: Events a stream may fall behind by before it is resynchronised (its queue is cleared).
QUEUE_SIZE = 64


def events_channel(tenant_id: str) -> str:
    return f"wppconnect:events:{tenant_id}"


def _aad(tenant_id: str) -> bytes:
    return f"wppconnect-events:{tenant_id}".encode()


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event as produced to Kafka: ``kind`` says the topic (``qr`` or ``state``)."""

    kind: Kind
    data: dict[str, Any]


class PublishingSink:
    """A :class:`WhatsAppSink` that also publishes QR and state events for live streams.

    Kafka first: the topic is the record; the channel only tells the streams open now.
    A failed publish is logged and dropped (a stream resynchronises from Redis).
    """

    def __init__(self, inner: WhatsAppSink, redis: Redis, cipher: Cipher | None) -> None:
        self.inner = inner
        self._redis = redis
        self._cipher = cipher

    async def qr(self, event: QrCodeEvent) -> None:
        await self.inner.qr(event)
        await self.publish("qr", event.tenant_id, event.to_json())

    async def state(self, event: SessionStateEvent) -> None:
        await self.inner.state(event)
        await self.publish("state", event.tenant_id, event.to_json())

    async def inbound(self, message: InboundMessage) -> None:
        await self.inner.inbound(message)  # messages are not on the console's feed

    async def publish(self, kind: Kind, tenant_id: str, payload: bytes) -> None:
        """Seal ``payload`` (the event's JSON, as on the topic) and publish it."""
        if self._cipher is None:
            return
        envelope = orjson.dumps({"kind": kind, "event": orjson.Fragment(payload)})
        token = self._cipher.encrypt(envelope, _aad(tenant_id))
        try:
            await self._redis.publish(events_channel(tenant_id), token)
        except (RedisError, OSError) as exc:
            log.warning(
                "session event not published for live streams",
                extra={"tenant_id": tenant_id, "kind": kind, "error": repr(exc)},
            )


@dataclass(eq=False)
class Subscription:
    """One stream's view of a tenant's channel: a bounded queue of events."""

    tenant_id: str
    queue: asyncio.Queue[FeedEvent | Literal["resync"]] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )

    def offer(self, item: FeedEvent | Literal["resync"]) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # too slow to keep up: start again from the stored state
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)

    async def next(self, timeout: float) -> FeedEvent | Literal["resync"] | None:  # noqa: ASYNC109
        """The next item, or ``None`` after ``timeout`` seconds without one."""
        try:
            async with asyncio.timeout(timeout):
                return await self.queue.get()
        except TimeoutError:
            return None


class SessionFeed:
    """A process's one pub/sub connection, shared by every stream it serves.

    The connection also listens on a channel of its own, so it is never without a
    subscription: tenants are subscribed and unsubscribed while it reads, without a health
    check interleaving with the reader. :meth:`subscribe` returns once Redis confirmed the
    subscription, so nothing published after that is missed.
    """

    def __init__(self, redis: Redis, cipher: Cipher | None, *, confirm_timeout: float = 5.0):
        self._redis = redis
        self._cipher = cipher
        self._confirm_timeout = confirm_timeout
        self._own = f"wppconnect:events:_feed:{secrets.token_hex(8)}"
        self._subscribers: dict[str, set[Subscription]] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._pubsub: Any = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def tenants(self) -> list[str]:
        """The tenants followed now (tests, metrics)."""
        return sorted(self._subscribers)

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant_id: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(tenant_id)
        try:
            await self._attach(subscription)
            yield subscription
        finally:
            await self._detach(subscription)

    async def _attach(self, subscription: Subscription) -> None:
        if self._closed:
            raise RuntimeError("the session feed is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="whatsapp-session-feed")
        tenant = subscription.tenant_id
        subscribers = self._subscribers.setdefault(tenant, set())
        subscribers.add(subscription)
        confirmed = self._confirmed.setdefault(tenant, asyncio.Event())
        if len(subscribers) == 1:
            confirmed.clear()
            async with asyncio.timeout(self._confirm_timeout):
                await self._ready.wait()
                await self._pubsub.subscribe(events_channel(tenant))
        async with asyncio.timeout(self._confirm_timeout):
            await confirmed.wait()

    async def _detach(self, subscription: Subscription) -> None:
        tenant = subscription.tenant_id
        subscribers = self._subscribers.get(tenant, set())
        subscribers.discard(subscription)
        if subscribers:
            return
        self._subscribers.pop(tenant, None)
        self._confirmed.pop(tenant, None)
        if self._pubsub is not None and self._ready.is_set():
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(events_channel(tenant))

    async def _run(self) -> None:
        first = True
        while not self._closed:
            pubsub: Any = self._redis.pubsub()
            try:
                await pubsub.subscribe(self._own, *map(events_channel, self._subscribers))
                self._pubsub = pubsub
                self._ready.set()
                if not first:  # messages may have been missed while away
                    self._broadcast_resync()
                first = False
                async for message in pubsub.listen():
                    self._handle(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("session event feed lost; resubscribing", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)
            finally:
                self._ready.clear()
                self._pubsub = None
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    def _broadcast_resync(self) -> None:
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription.offer(RESYNC)

    def _handle(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        prefix = events_channel("")
        if not name.startswith(prefix) or name == self._own:
            return
        tenant = name[len(prefix) :]
        if message.get("type") == "subscribe":
            confirmed = self._confirmed.get(tenant)
            if confirmed is not None:
                confirmed.set()
            return
        if message.get("type") != "message":
            return
        event = self._open(tenant, message.get("data"))
        if event is not None:
            for subscription in list(self._subscribers.get(tenant, ())):
                subscription.offer(event)

    def _open(self, tenant_id: str, data: Any) -> FeedEvent | None:
        if self._cipher is None:
            return None
        try:
            token = data.decode() if isinstance(data, bytes) else str(data)
            envelope = orjson.loads(self._cipher.decrypt(token, _aad(tenant_id)))
            kind, event = envelope["kind"], envelope["event"]
        except (CryptoError, orjson.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
            log.warning("unreadable session event on the feed", extra={"tenant_id": tenant_id})
            return None
        if kind not in ("qr", "state") or not isinstance(event, dict):
            return None
        return FeedEvent(kind, event)

    async def close(self) -> None:
        """End every stream (``RESYNC`` is not enough: they see ``closed``) and the reader."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    @property
    def closed(self) -> bool:
        return self._closed
