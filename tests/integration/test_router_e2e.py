"""The foundation's 'done when', end to end: a real worker process, the embedded broker,
a real redis-server and the WhatsApp Business fake over loopback HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from sandbox import GRAPH_VERSION, WhatsAppBusinessSandbox, serve_app
from schemas import DeadLetterInfo, DeadLetterReason, Settings
from seeds import load_seeds
from streams.platform.admin import ensure_topics
from streams.platform.redis import redis_client
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from tests.helpers import (
    WorkerProcess,
    consume_until,
    events_until_sent,
    has,
    make_settings,
    notification_events,
    produce,
)

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAG-test-token"
APP_SECRET = "app-secret-acme"
VERIFY_TOKEN = "verify-acme"
MARKER_BODY = "settled? (marker)"


@dataclass
class Env:
    settings: Settings
    sandbox: WhatsAppBusinessSandbox
    worker: WorkerProcess
    redis: Redis

    def request(self, **overrides: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "id": f"n-{uuid.uuid4()}",
            "tenantId": "acme",
            "channel": "whatsapp",
            "recipient": {"phone": "+55 11 99999-0001"},
            "content": {"body": "Your order has shipped"},
            "metadata": {"orderId": 1234},
        }
        base.update(overrides)
        return base

    async def statuses(
        self, notification_id: str, until: Callable[[list[dict[str, Any]]], bool]
    ) -> list[dict[str, Any]]:
        return await notification_events(self.settings, notification_id, until)

    async def settled(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """All events of ``request`` emitted before a new marker request's ``sent``.

        Everything for a tenant shares one partition, and the marker goes to the same
        recipient (the router keeps one recipient's requests in order, while different
        recipients' overlap), so an event caused before the marker was produced -- by a
        duplicate of ``request`` too -- is read before the marker's ``sent``: this proves
        an absence without waiting for a fixed time.
        """
        notification_id = request["id"]
        marker = self.request(recipient=request["recipient"], content={"body": MARKER_BODY})
        await produce(self.settings, self.settings.topic_requests, b"acme", orjson.dumps(marker))
        events = await events_until_sent(self.settings, marker["id"])
        return [e for e in events if e["notificationId"] == notification_id]


@pytest_asyncio.fixture(scope="module")
async def env(
    kafka_bootstrap: str,
    redis_url: str,
    redis_is_embedded: bool,
    test_secret_key: str,
    tmp_path_factory: Any,
) -> AsyncIterator[Env]:
    """One worker for the whole module (worker starts are the slow part); tests use their
    own notification ids and recipients, so they do not see each other's effects."""
    sandbox = WhatsAppBusinessSandbox()
    redis = redis_client(redis_url)
    async with serve_app(sandbox.app, port=0) as base_url:
        settings = make_settings(
            kafka_bootstrap_servers=kafka_bootstrap,
            redis_url=redis_url,
            secret_key=test_secret_key,
            whatsapp_business_api_url=f"{base_url}/{GRAPH_VERSION}",
            provider_timeout_seconds=1.0,
            send_max_attempts=2,
        )
        sandbox.add_account(
            PHONE_NUMBER_ID,
            access_token=TOKEN,
            app_secret=APP_SECRET,
            webhook_url=f"http://127.0.0.1:{settings.web_port}/webhooks/whatsapp-business",
        )
        await load_seeds(redis)
        store = IntegrationStore(redis, Cipher.from_settings(settings))
        await store.set(
            "acme",
            "whatsapp-business",
            {
                "phoneNumberId": PHONE_NUMBER_ID,
                "accessToken": TOKEN,
                "appSecret": APP_SECRET,
                "verifyToken": VERIFY_TOKEN,
            },
            is_default=True,
        )
        await ensure_topics(settings)
        workdir = tmp_path_factory.mktemp("router-e2e")
        worker = WorkerProcess(settings, workdir=workdir, log_path=workdir / "worker.log")
        await worker.start()
        try:
            yield Env(settings=settings, sandbox=sandbox, worker=worker, redis=redis)
        finally:
            await worker.stop()
            await sandbox.close()
            if redis_is_embedded:  # never flush a Redis the tests did not start
                await redis.flushdb()
            await redis.aclose()


async def test_request_is_accepted_sent_and_delivered_with_signed_webhooks(env: Env) -> None:
    req = env.request(recipient={"phone": "+55 11 99999-0001"})
    await produce(env.settings, env.settings.topic_requests, b"acme", orjson.dumps(req))

    events = await env.statuses(req["id"], has("accepted", "sent"))
    accepted, sent = events[0], events[1]
    assert accepted["status"] == "accepted"
    assert sent["status"] == "sent"
    assert sent["provider"] == "whatsapp-business"
    assert sent["metadata"] == {"orderId": 1234}
    wamid = sent["providerMessageId"]
    [message] = [m for m in env.sandbox.messages if m.wamid == wamid]
    assert message.body["to"] == "5511999990001"
    assert message.body["text"]["body"] == "Your order has shipped"

    # A badly signed webhook: 401, and nothing is emitted for it.
    assert await env.sandbox.post_status(wamid, "failed", sign_with="not-the-secret") == 401
    assert await env.sandbox.post_status(wamid, "delivered", unsigned=True) == 401
    # A correctly signed one becomes a status event.
    assert await env.sandbox.post_status(wamid, "delivered") == 200
    events = await env.settled(req)
    assert [e["status"] for e in events] == ["accepted", "sent", "delivered"]
    assert events[-1]["metadata"] == {"orderId": 1234}

    # Out of order: read, then a late delivered, then read again: read once, nothing else.
    assert await env.sandbox.post_status(wamid, "read") == 200
    assert await env.sandbox.post_status(wamid, "delivered") == 200
    assert await env.sandbox.post_status(wamid, "read") == 200
    events = await env.settled(req)
    assert [e["status"] for e in events] == ["accepted", "sent", "delivered", "read"]


async def test_webhook_verification_handshake(env: Env) -> None:
    import httpx

    url = f"{env.worker.url}/webhooks/whatsapp-business"
    async with httpx.AsyncClient() as client:
        ok = await client.get(
            url,
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "42",
            },
        )
        bad = await client.get(
            url,
            params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42"},
        )
    assert (ok.status_code, ok.text) == (200, "42")
    assert bad.status_code == 403


async def test_garbage_goes_to_the_dead_letter_topic(env: Env) -> None:
    garbage = b"\xff\xfe not a request " + uuid.uuid4().bytes
    await produce(env.settings, env.settings.topic_requests, b"acme", garbage)
    [letter] = await consume_until(
        env.settings, env.settings.topic_dlq, 1, where=lambda r: r.value == garbage
    )
    info = DeadLetterInfo.from_headers([(k, bytes(v)) for k, v in letter.headers])
    assert info.reason in {DeadLetterReason.NOT_UTF8, DeadLetterReason.NOT_JSON}
    assert info.topic == env.settings.topic_requests
    assert letter.key == b"acme"
    # The worker carried on:
    req = env.request()
    await produce(env.settings, env.settings.topic_requests, b"acme", orjson.dumps(req))
    await env.statuses(req["id"], has("sent"))


async def test_duplicate_id_causes_no_second_call(env: Env) -> None:
    req = env.request(recipient={"phone": "+44 7700 900123"})
    await produce(env.settings, env.settings.topic_requests, b"acme", orjson.dumps(req))
    await env.statuses(req["id"], has("sent"))
    await produce(env.settings, env.settings.topic_requests, b"acme", orjson.dumps(req))
    events = await env.settled(req)
    assert [e["status"] for e in events] == ["accepted", "sent"]
    sent = [m for m in env.sandbox.messages if m.to == "447700900123"]
    assert len([m for m in sent if m.body["text"]["body"] != MARKER_BODY]) == 1


async def test_mis_keyed_request_is_rekeyed_and_processed(env: Env) -> None:
    req = env.request()
    await produce(env.settings, env.settings.topic_requests, b"wrong-key", orjson.dumps(req))
    events = await env.statuses(req["id"], has("sent"))
    assert [e["status"] for e in events] == ["accepted", "sent"]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"channel": "carrier-pigeon"}, "invalid_request"),
        ({"provider": "sendgrid"}, "unknown_provider"),
        ({"provider": "wppconnect"}, "no_integration"),  # acme has no wppconnect integration
        ({"recipient": {"phone": "12"}}, "invalid_recipient"),
        ({"tenantId": "globex"}, "no_integration"),
    ],
)
async def test_invalid_requests_are_rejected_with_a_code(
    env: Env, overrides: dict[str, Any], code: str
) -> None:
    req = env.request(**overrides)
    key = req["tenantId"].encode()
    await produce(env.settings, env.settings.topic_requests, key, orjson.dumps(req))
    [event] = await env.statuses(req["id"], has("rejected"))
    assert event["error"]["code"] == code
    assert event["error"]["retryable"] is False
    assert event["metadata"] == {"orderId": 1234}


async def test_provider_errors_end_in_failed_or_retry_then_sent(env: Env) -> None:
    env.sandbox.fail("+1 415 555 0101", 131026, message="Message undeliverable")
    doomed = env.request(recipient={"phone": "+1 415 555 0101"})
    await produce(env.settings, env.settings.topic_requests, b"acme", orjson.dumps(doomed))
    events = await env.statuses(doomed["id"], has("failed"))
    assert [e["status"] for e in events] == ["accepted", "failed"]
    assert events[-1]["error"]["code"] == "131026"
    assert events[-1]["error"]["retryable"] is False

    env.sandbox.fail("+1 415 555 0102", 130429, http_status=429, times=1)
    flaky = env.request(recipient={"phone": "+1 415 555 0102"})
    await produce(env.settings, env.settings.topic_requests, b"acme", orjson.dumps(flaky))
    events = await env.statuses(flaky["id"], has("sent"))
    assert [e["status"] for e in events] == ["accepted", "retrying", "sent"]
    assert events[1]["attempt"] == 1
    assert events[1]["error"]["code"] == "130429"
    assert events[1]["nextAttemptAt"]
    assert events[2]["attempt"] == 2


async def test_health_endpoint(env: Env) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.get(f"{env.worker.url}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}  # reveals nothing else (docs/security.md)
