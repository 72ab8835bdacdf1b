"""SMS end to end: a real worker process, the embedded broker, a real redis-server, and
the Twilio and SNS fakes over loopback HTTP (the Twilio fake calls the worker's
``/webhooks/twilio`` back with signed status callbacks)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from sandbox import serve_app
from sandbox.sns import SNSSandbox
from sandbox.twilio import TwilioSandbox
from schemas import Settings
from seeds import load_seeds
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from tests.helpers import (
    WorkerProcess,
    events_until_sent,
    has,
    notification_events,
    produce,
)

pytestmark = pytest.mark.integration

ACCOUNT_SID = "AC" + "5a" * 16
AUTH_TOKEN = "acme-twilio-auth-token"
SENDER = "+15005550006"
ACCESS_KEY = "AKIAHERALDE2E0000001"
SECRET = "e2e-secret-access-key"
REGION = "sa-east-1"
TWILIO_CREDS = {"accountSid": ACCOUNT_SID, "authToken": AUTH_TOKEN, "fromPhone": SENDER}
SNS_CREDS = {"region": REGION, "accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET}


@asynccontextmanager
async def sms_fakes() -> AsyncIterator[tuple[TwilioSandbox, SNSSandbox, str, str]]:
    """The Twilio and SNS fakes (accepting ``TWILIO_CREDS``, ``SNS_CREDS``), served; with
    their URLs."""
    twilio = TwilioSandbox()
    twilio.add_account(ACCOUNT_SID, AUTH_TOKEN, senders={SENDER})
    sns = SNSSandbox(region=REGION)
    sns.add_key(ACCESS_KEY, SECRET)
    async with serve_app(twilio.app) as twilio_url, serve_app(sns.app) as sns_url:
        yield twilio, sns, twilio_url, sns_url


@dataclass
class Env:
    settings: Settings
    twilio: TwilioSandbox
    sns: SNSSandbox
    worker: WorkerProcess

    def request(self, phone: str, **overrides: Any) -> dict[str, Any]:
        return {
            "id": f"n-{uuid.uuid4()}",
            "tenantId": "acme",
            "channel": "sms",
            "recipient": {"phone": phone},
            "content": {"body": "Your code is 123456"},
            "metadata": {"orderId": 7},
            **overrides,
        }

    async def send(self, request: dict[str, Any]) -> None:
        await produce(self.settings, self.settings.topic_requests, b"acme", orjson.dumps(request))

    async def events(
        self, notification_id: str, until: Callable[[list[dict[str, Any]]], bool]
    ) -> list[dict[str, Any]]:
        return await notification_events(self.settings, notification_id, until)

    async def settled(self, *notification_ids: str) -> dict[str, list[str]]:
        """The statuses of each notification emitted before a new marker request's ``sent``.

        A tenant's events share one partition, so anything caused before the marker was
        produced is read before the marker's ``sent``: this proves an absence without
        waiting for a fixed time.
        """
        marker = self.request("+1 202 555 0199")
        await self.send(marker)
        events = await events_until_sent(self.settings, marker["id"])
        return {
            nid: [e["status"] for e in events if e["notificationId"] == nid]
            for nid in notification_ids
        }


@pytest_asyncio.fixture
async def env(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    redis: Redis,
) -> AsyncIterator[Env]:
    async with sms_fakes() as (twilio, sns, twilio_url, sns_url):
        settings = settings_factory(
            twilio_api_url=twilio_url,
            sns_endpoint_url=sns_url,
            provider_timeout_seconds=2.0,
            send_max_attempts=2,
        )
        settings = settings.model_copy(
            update={"public_url": f"http://127.0.0.1:{settings.web_port}"}
        )
        await load_seeds(redis)
        store = IntegrationStore(redis, Cipher.from_settings(settings))
        await store.set("acme", "twilio", TWILIO_CREDS, is_default=True)
        await store.set("acme", "sns", SNS_CREDS)
        worker = await worker_factory(settings)
        try:
            yield Env(settings=settings, twilio=twilio, sns=sns, worker=worker)
        finally:
            await worker.stop()
            await twilio.close()
            await sns.close()


async def test_twilio_sends_and_signed_callbacks_become_statuses(env: Env) -> None:
    delivered = env.request("+55 11 99999-0001")
    undelivered = env.request("+55 11 99999-0002")
    refused = env.request("+55 11 99999-0003")
    env.twilio.fail("+5511999990003", 21610, message="Attempt to send to unsubscribed recipient")
    for request in (delivered, undelivered, refused):
        await env.send(request)

    sent = (await env.events(delivered["id"], has("sent")))[-1]
    assert sent["provider"] == "twilio"
    assert sent["metadata"] == {"orderId": 7}
    sid = sent["providerMessageId"]
    message = env.twilio.message(sid)
    assert message is not None
    assert (message.to, message.from_, message.body) == (
        "+5511999990001",
        SENDER,
        "Your code is 123456",
    )
    assert message.status_callback == f"{env.worker.url}/webhooks/twilio"

    # Badly signed or unsigned callbacks: 401, nothing emitted.
    assert await env.twilio.post_status(sid, "failed", sign_with="not-the-token") == 401
    assert await env.twilio.post_status(sid, "undelivered", unsigned=True) == 401
    # Signed ones: sent (a duplicate of the router's), then delivered.
    assert await env.twilio.post_status(sid, "sent") == 200
    assert await env.twilio.post_status(sid, "delivered") == 200

    other = (await env.events(undelivered["id"], has("sent")))[-1]["providerMessageId"]
    assert await env.twilio.post_status(other, "undelivered", error_code=30007) == 200
    failed = (await env.events(undelivered["id"], has("failed")))[-1]
    assert failed["providerMessageId"] == other
    assert failed["error"]["code"] == "30007"
    assert failed["error"]["retryable"] is False

    rejected = (await env.events(refused["id"], has("failed")))[-1]
    assert rejected["error"]["code"] == "21610"
    assert rejected["error"]["retryable"] is False

    statuses = await env.settled(delivered["id"], undelivered["id"], refused["id"])
    assert statuses == {
        delivered["id"]: ["accepted", "sent", "delivered"],
        undelivered["id"]: ["accepted", "sent", "failed"],
        refused["id"]: ["accepted", "failed"],
    }


async def test_sns_publishes_and_sent_is_the_last_status(env: Env) -> None:
    published = env.request("+55 21 98888-0001", provider="sns")
    opted_out = env.request("+55 21 98888-0002", provider="sns")
    env.sns.fail("+5521988880002", "OptedOut", message="Phone number is opted out")
    await env.send(published)
    await env.send(opted_out)

    sent = (await env.events(published["id"], has("sent")))[-1]
    assert sent["provider"] == "sns"
    [message] = env.sns.messages
    assert sent["providerMessageId"] == message.message_id
    assert (message.phone_number, message.message, message.access_key_id) == (
        "+5521988880001",
        "Your code is 123456",
        ACCESS_KEY,
    )
    assert message.attributes == {"AWS.SNS.SMS.SMSType": "Transactional"}

    failed = (await env.events(opted_out["id"], has("failed")))[-1]
    assert failed["error"]["code"] == "OptedOut"
    assert failed["error"]["retryable"] is False

    statuses = await env.settled(published["id"], opted_out["id"])
    assert statuses == {
        published["id"]: ["accepted", "sent"],
        opted_out["id"]: ["accepted", "failed"],
    }
