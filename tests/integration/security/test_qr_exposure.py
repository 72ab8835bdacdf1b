"""QR exposure (issue #18, section 2): whoever reads a QR code first can link the tenant's
WhatsApp number to their own phone. The Redis copy is encrypted, bound to the tenant and
short-lived; ``WHATSAPP_WPPCONNECT_QR_PUBLISH=reference`` keeps the code off the topic."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest
from redis.asyncio import Redis

from providers.wppconnect import render_qr
from streams.pipeline.ratelimit import TokenBucket
from streams.pipeline.state import NotificationState
from streams.pipeline.updates import StatusUpdater
from streams.platform.sink import MemorySink
from streams.tenancy.auth import Scope, TenantKeys
from streams.tenancy.crypto import Cipher
from streams.whatsapp import SessionEndpoints, SessionStore
from streams.whatsapp.events import MemoryWhatsAppSink, SessionEvents
from streams.whatsapp.session import WhatsAppSession
from streams.whatsapp.store import qr_key, qr_ref

pytestmark = pytest.mark.integration

CODE = "2@pairing-ref-XYZ,publickey=,identity=,adv="


def fake_session(tenant: str) -> WhatsAppSession:
    options = SimpleNamespace(qr_timeout_ms=60000, session_label="support")
    session = SimpleNamespace(
        tenant_id=tenant, sid=tenant, is_default=True, name=f"tenant-{tenant}", options=options
    )
    return cast(WhatsAppSession, session)


def events(redis: Redis, cipher: Cipher, publish: str) -> tuple[SessionEvents, MemoryWhatsAppSink]:
    sink = MemoryWhatsAppSink()
    state = NotificationState(redis, ttl_seconds=60, correlation_ttl_seconds=60)
    listener = SessionEvents(
        SessionStore(redis, owner="w1", cipher=cipher),
        sink,
        StatusUpdater(state, MemorySink()),
        qr_publish=publish,
    )
    return listener, sink


async def test_reference_mode_keeps_the_code_off_the_topic(redis: Redis) -> None:
    cipher = Cipher(os.urandom(32))
    listener, sink = events(redis, cipher, "reference")
    qr = render_qr(CODE, attempts=1, ttl_ms=20000)
    await listener.on_qr(fake_session("acme"), qr)

    [event] = sink.qrs
    wire: dict[str, Any] = orjson.loads(event.to_json())
    assert CODE.encode() not in event.to_json()
    assert not {"qrCode", "asciiQR", "urlCode"} & wire.keys()
    assert wire["qrRef"] == qr_ref(CODE)
    assert wire["qrUrl"] == "/webhooks/wppconnect/qr/acme"
    assert wire["attempts"] == 1

    # The UI fetches it with a session-scoped key; an inbox key is not enough.
    keys = TenantKeys(redis)
    session_key, _ = await keys.create("acme", scopes=[Scope.SESSION])
    inbox_key, _ = await keys.create("acme", scopes=[Scope.INBOX])

    async def produce(command: Any) -> None:
        raise AssertionError("no command expected")

    endpoints = SessionEndpoints(
        keys=keys,
        bucket=TokenBucket(redis),
        store=SessionStore(redis, cipher=cipher),
        commands=produce,
    )
    assert (await endpoints.qr("acme", {"X-Api-Key": inbox_key})).status == 403
    answer = await endpoints.qr("acme", {"X-Api-Key": session_key})
    assert answer.status == 200
    body = orjson.loads(answer.body)
    assert (body["urlCode"], body["qrRef"]) == (CODE, wire["qrRef"])


async def test_the_full_event_stays_the_default(redis: Redis) -> None:
    listener, sink = events(redis, Cipher(os.urandom(32)), "full")
    await listener.on_qr(fake_session("acme"), render_qr(CODE, attempts=2, ttl_ms=20000))
    [event] = sink.qrs
    assert event.url_code == CODE
    assert event.qr_code is not None
    assert event.qr_code.startswith("data:image/png;base64,")
    assert event.qr_ref == qr_ref(CODE)


async def test_the_redis_copy_is_sealed_bound_and_short_lived(redis: Redis) -> None:
    cipher = Cipher(os.urandom(32))
    listener, _ = events(redis, cipher, "full")
    await listener.on_qr(fake_session("acme"), render_qr(CODE, attempts=1, ttl_ms=20000))
    raw = await redis.get(qr_key("acme"))
    assert raw is not None
    assert b"pairing-ref" not in raw  # not in clear
    assert b"data:image" not in raw
    assert 0 < await redis.pttl(qr_key("acme")) <= 20000  # no longer than the code lives
    store = SessionStore(redis, cipher=cipher)
    stored = await store.get_qr("acme")
    assert stored is not None
    assert stored["urlCode"] == CODE
    # Copied under another tenant's key, it does not open; nor without the key.
    await redis.set(qr_key("globex"), raw)
    assert await store.get_qr("globex") is None
    assert await SessionStore(redis, cipher=Cipher(os.urandom(32))).get_qr("acme") is None
    assert await SessionStore(redis).get_qr("acme") is None
    # No key configured: nothing is stored at all rather than a clear copy.
    await redis.delete(qr_key("acme"))
    await SessionStore(redis).put_qr("acme", render_qr(CODE, attempts=1, ttl_ms=20000), 20000)
    assert await redis.get(qr_key("acme")) is None
