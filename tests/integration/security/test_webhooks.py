"""Webhooks (issue #18, section 1): each test sends the hostile request and sees it fail."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from providers import mailgun as mailgun_hooks
from providers import sendgrid as sendgrid_hooks
from providers.webhooks import DeliveryReport, WebhookRequest, WebhookResponse
from providers.whatsapp_business._receiver import handle_notification, handle_verification
from sandbox.sendgrid import SendGridSandbox
from schemas.status import Status
from streams.pipeline.updates import Outcome
from streams.tenancy.crypto import Cipher, DecryptionFailed
from streams.tenancy.integrations import IntegrationStore
from streams.web.guard import WebhookGuard, client_address
from streams.whatsapp.message_ids import SALT_KEY, MessageIds
from tests.helpers import make_settings, new_secret_key
from tests.integration.test_email_webhooks import (
    DOMAIN,
    mailgun_sent,
    sendgrid_mail,
    store_sendgrid,
)
from tests.integration.test_email_webhooks import Env as EmailEnv

pytestmark = pytest.mark.integration

WAB = "whatsapp-business"


class CountingStore(IntegrationStore):
    """The real store, counting what a webhook makes it look up."""

    def __init__(self, redis: Redis, cipher: Cipher) -> None:
        super().__init__(redis, cipher)
        self.calls: dict[str, int] = {"index": 0, "indexes": 0, "credentials": 0}

    async def tenants_by_index(self, provider: str, field: str, value: str) -> list[str]:
        self.calls["index"] += 1
        return await super().tenants_by_index(provider, field, value)

    async def tenants_by_indexes(
        self, provider: str, field: str, values: list[str]
    ) -> dict[str, list[str]]:
        self.calls["indexes"] += 1
        return await super().tenants_by_indexes(provider, field, values)

    async def credentials(self, tenant_id: str, provider: str) -> Any:
        self.calls["credentials"] += 1
        return await super().credentials(tenant_id, provider)


@pytest_asyncio.fixture
async def env(redis: Redis, test_secret_key: str) -> AsyncIterator[EmailEnv]:
    yield EmailEnv.over(redis, test_secret_key, CountingStore)


def wab_payload(phone_ids: list[str]) -> bytes:
    entries = [
        {
            "id": "1314702302917944",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "155", "phone_number_id": pid},
                        "statuses": [
                            {
                                "id": f"wamid.{pid}",
                                "status": "read",
                                "timestamp": "1750857384",
                                "recipient_id": "5516992318222",
                            }
                        ],
                    },
                }
            ],
        }
        for pid in phone_ids
    ]
    return orjson.dumps({"object": "whatsapp_business_account", "entry": entries})


def meta_signature(raw: bytes, secret: str) -> str:  # Meta's documented scheme, written here
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


async def store_wab(env: EmailEnv, tenant: str, phone_id: str, secret: str) -> None:
    await env.store.set(
        tenant,
        WAB,
        {
            "phoneNumberId": phone_id,
            "accessToken": f"EAAG-{tenant}",
            "appSecret": secret,
            "verifyToken": f"verify-{tenant}",
        },
    )


# --- amplification ---------------------------------------------------------------------------


async def test_thousands_of_phone_ids_cause_no_lookup(env: EmailEnv) -> None:
    store = env.store
    assert isinstance(store, CountingStore)
    raw = wab_payload([str(10**9 + i) for i in range(5000)])
    assert len(raw) < 2_000_000
    answer = await handle_notification(
        raw, "sha256=" + "0" * 64, integrations=store, updater=env.updater, max_phone_ids=10
    )
    assert answer.status == 401
    assert store.calls == {"index": 0, "indexes": 0, "credentials": 0}


async def test_lookups_are_batched_and_stop_at_the_first_unverified_id(env: EmailEnv) -> None:
    store = env.store
    assert isinstance(store, CountingStore)
    for i in range(5):
        await store_wab(env, f"t{i}", f"55500{i}", f"secret-{i}")
    store.calls = dict.fromkeys(store.calls, 0)
    raw = wab_payload([f"55500{i}" for i in range(5)])
    forged = meta_signature(raw, "secret-0")  # signed for t0 only
    answer = await handle_notification(raw, forged, integrations=store, updater=env.updater)
    assert answer.status == 401
    assert store.calls["index"] == 0
    assert store.calls["indexes"] == 1  # one pipelined round trip for every id
    assert store.calls["credentials"] == 2  # t0 verified, t1 did not: the check stops there
    assert env.sink.statuses == []


async def test_the_verification_get_is_bounded(env: EmailEnv) -> None:
    await store_wab(env, "acme", "555001", "secret")
    store = env.store
    assert isinstance(store, CountingStore)
    base = {"hub.mode": "subscribe", "hub.verify_token": "verify-acme"}
    ok = await handle_verification({**base, "hub.challenge": "1158201444"}, store)
    assert (ok.status, ok.body) == (200, "1158201444")
    before = store.calls["index"]
    for challenge in ("x" * 10_000, "<script>alert(1)</script>", ""):
        answer = await handle_verification({**base, "hub.challenge": challenge}, store)
        assert answer.status == 400
        assert challenge not in answer.body or not challenge
    long_token = {**base, "hub.verify_token": "v" * 5000, "hub.challenge": "1"}
    assert (await handle_verification(long_token, store)).status == 400
    assert store.calls["index"] == before  # refused before any lookup


# --- the guard: throttled 401s, unreadable keys ----------------------------------------------


def request(headers: dict[str, str] | None = None, body: bytes = b"{}") -> WebhookRequest:
    return WebhookRequest("POST", "http://h/webhooks/x", headers or {}, {}, body)


async def test_repeated_401s_from_one_source_are_throttled(redis: Redis) -> None:
    guard = WebhookGuard(redis, make_settings(webhook_max_unauthorized_per_minute=3))
    calls = 0

    async def handler() -> WebhookResponse:
        nonlocal calls
        calls += 1
        return WebhookResponse(401, "invalid signature")

    answers = [(await guard.run("/w", "203.0.113.9", request(), handler)).status for _ in range(6)]
    assert answers == [401, 401, 401, 429, 429, 429]
    assert calls == 3  # the throttled ones cost nothing: no lookups, no signature checks
    other = await guard.run("/w", "198.51.100.7", request(), handler)
    assert other.status == 401  # another source is not affected


def test_the_source_is_the_peer_unless_a_proxy_header_is_configured() -> None:
    headers = {"X-Forwarded-For": "1.1.1.1, 203.0.113.9"}
    assert client_address("10.0.0.2", headers, None) == "10.0.0.2"  # spoofable header ignored
    assert client_address("10.0.0.2", headers, "X-Forwarded-For") == "203.0.113.9"


async def test_an_unreadable_key_answers_401_or_503_and_logs_once(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    guard = WebhookGuard(redis, make_settings())

    async def handler() -> WebhookResponse:
        raise DecryptionFailed("token was encrypted with key 1234abcd, which is unknown")

    caplog.set_level(logging.ERROR, logger="streams.web.guard")
    unsigned = [await guard.run("/w", "a", request(), handler) for _ in range(3)]
    assert [a.status for a in unsigned] == [401, 401, 401]
    signed = await guard.run("/w", "b", request({"X-Hub-Signature-256": "sha256=00"}), handler)
    assert signed.status == 503
    assert signed.headers["Retry-After"]
    assert "Traceback" not in caplog.text
    assert len([r for r in caplog.records if "unreadable" in r.getMessage()]) == 1


# --- parked reports keep their tenants ---------------------------------------------------------


async def test_a_parked_report_is_replayed_only_for_its_authenticated_tenants(
    env: EmailEnv,
) -> None:
    forged = DeliveryReport(
        provider="sendgrid",
        provider_message_id="MSG-A",
        status=Status.READ,
        tenants=frozenset({"globex"}),
    )
    genuine = DeliveryReport(
        provider="sendgrid",
        provider_message_id="MSG-A",
        status=Status.DELIVERED,
        tenants=frozenset({"acme"}),
    )
    assert await env.updater.apply(forged) is Outcome.PARKED  # globex reports acme's id
    assert await env.updater.apply(genuine) is Outcome.PARKED
    await env.state.claim("acme", "n-1")
    await env.state.mark_accepted("acme", "n-1", channel="email", provider="sendgrid", metadata={})
    replayed = await env.state.record_sent("acme", "n-1", "sendgrid", "MSG-A")
    assert [p.status for p in replayed] == [Status.DELIVERED]  # globex's "read" dropped


# --- SendGrid replays ------------------------------------------------------------------------


async def sendgrid_post(
    env: EmailEnv, account: Any, events: list[dict[str, Any]], timestamp: int
) -> int:
    raw = orjson.dumps(events)
    signature = sendgrid_hooks.sign(raw, str(timestamp), account.private_key)
    answer = await sendgrid_hooks.handle_events(
        raw,
        signature,
        str(timestamp),
        tenant_hint=None,
        integrations=env.store,
        updater=env.updater,
        redis=env.redis,
        max_age_seconds=900,
    )
    return answer.status


async def test_sendgrid_old_or_future_timestamps_and_replayed_events(env: EmailEnv) -> None:
    fake = SendGridSandbox()
    account = fake.add_account("SG.acme")
    await store_sendgrid(env, "acme", account)
    await env.sent("acme", "sendgrid", "MSG1")
    delivered = fake.event(sendgrid_mail("MSG1"), "delivered")
    now = int(time.time())
    assert await sendgrid_post(env, account, [delivered], 978307200) == 401  # 2001-01-01
    assert await sendgrid_post(env, account, [delivered], now - 901) == 401
    assert await sendgrid_post(env, account, [delivered], now + 301) == 401
    assert env.sink.statuses == []
    assert await sendgrid_post(env, account, [delivered], now) == 200
    applied = dict(env.updater.counters)
    # The same event, re-signed with a fresh timestamp: skipped before it reaches the state.
    assert await sendgrid_post(env, account, [delivered], now + 1) == 200
    assert env.updater.counters == applied
    assert [e.status for e in env.sink.statuses] == [Status.DELIVERED]


# --- Mailgun: future skew, token kept while valid ------------------------------------------------


async def test_mailgun_future_timestamps_are_bounded_and_their_tokens_kept(env: EmailEnv) -> None:
    fake, domain, mail = await mailgun_sent(env, f"M1@{DOMAIN}")
    data = fake.event_data(mail, "delivered")
    now = int(time.time())

    async def post(body: bytes) -> int:
        answer = await mailgun_hooks.handle_event(
            body, redis=env.redis, integrations=env.store, updater=env.updater, max_age_seconds=900
        )
        return answer.status

    assert await post(fake.signed_body(domain, data, timestamp=now + 301)) == 401
    ahead = fake.signed_body(domain, data, timestamp=now + 290, token="t" * 50)
    assert await post(ahead) == 200
    # Valid until now+290+900: the token is remembered at least that long (not now+900).
    ttl = await env.redis.ttl(mailgun_hooks.token_key("t" * 50))
    assert ttl >= 290 + 900 - 5
    assert await post(ahead) == 406


# --- WhatsApp Web message ids ------------------------------------------------------------------


async def test_whatsapp_web_message_ids_cannot_be_computed_by_another_tenant(redis: Redis) -> None:
    ids, other_worker = MessageIds(redis), MessageIds(redis)
    key = await ids.key("acme", "n-1")
    assert key == await other_worker.key("acme", "n-1")  # every worker, every try: the same
    assert key.startswith("3EB0")
    assert len(key) == 20
    # What anyone could compute from tenant and notification id alone is not it.
    public = "3EB0" + hashlib.sha256(b"acme\x00n-1").hexdigest()[:16].upper()
    assert key != public
    await redis.delete(SALT_KEY)
    assert await MessageIds(redis).key("acme", "n-1") != key  # it rests on the secret salt


# --- the same, through a worker's public port ---------------------------------------------------


async def test_a_worker_throttles_401s_and_survives_an_unreadable_key(
    redis: Redis,
    settings_factory: Any,
    worker_factory: Any,
) -> None:
    settings = settings_factory(webhook_max_unauthorized_per_minute=4)
    # An integration stored under a key this worker does not have (a botched rotation).
    lost = Cipher.from_settings(make_settings(secret_key=new_secret_key()))
    await IntegrationStore(redis, lost).set(
        "acme",
        WAB,
        {"phoneNumberId": "555001", "accessToken": "EAAG-x", "appSecret": "s", "verifyToken": "v"},
    )
    worker = await worker_factory(settings)
    url = f"{worker.url}/webhooks/whatsapp-business"
    raw = wab_payload(["555001"])
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        signed = [
            (
                await client.post(
                    url, content=raw, headers={"X-Hub-Signature-256": "sha256=" + "1" * 64}
                )
            ).status_code
            for _ in range(3)
        ]
        assert signed == [503, 503, 503]  # cannot verify now; the provider retries later
        unsigned = [(await client.post(url, content=raw)).status_code for _ in range(6)]
        assert unsigned[:4] == [401, 401, 401, 401]
        assert unsigned[4:] == [429, 429]
        assert (await client.get(f"{worker.url}/health")).status_code == 200
    log = worker.log_path.read_text()
    assert "Traceback" not in log
    assert log.count("webhook credentials unreadable") == 1
