"""The SendGrid and Mailgun webhook handlers against a real redis-server and a MemorySink:
tenant attribution, signatures, stale and replayed Mailgun webhooks, malformed bodies."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from providers import mailgun as mailgun_hooks
from providers import sendgrid as sendgrid_hooks
from providers.sendgrid import sign
from sandbox._email import SentEmail
from sandbox.mailgun import MailgunDomain, MailgunSandbox
from sandbox.sendgrid import SendGridAccount, SendGridSandbox
from schemas.status import Status, StatusEvent
from streams.pipeline.state import NotificationState
from streams.pipeline.updates import Outcome, StatusUpdater
from streams.platform.sink import MemorySink
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from tests.helpers import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

DOMAIN = "mg.herald.example"
MAX_AGE = 900


@dataclass
class Env:
    redis: Redis
    store: IntegrationStore
    state: NotificationState
    sink: MemorySink
    updater: StatusUpdater

    async def sent(self, tenant: str, provider: str, message_id: str, nid: str = "n-1") -> None:
        await self.state.claim(tenant, nid)
        await self.state.mark_accepted(
            tenant, nid, channel="email", provider=provider, metadata={"order": 7}
        )
        await self.state.record_sent(tenant, nid, provider, message_id)

    def statuses(self) -> list[tuple[str, str, Status]]:
        return [(e.tenant_id, e.notification_id, e.status) for e in self.sink.statuses]

    @classmethod
    def over(
        cls, redis: Redis, secret_key: str, store: type[IntegrationStore] = IntegrationStore
    ) -> Env:
        """The receivers' world over ``redis``: integrations in a ``store``, statuses kept."""
        cipher = Cipher.from_settings(make_settings(secret_key=secret_key))
        state = NotificationState(redis, ttl_seconds=3600, correlation_ttl_seconds=3600)
        sink = MemorySink()
        return cls(redis, store(redis, cipher), state, sink, StatusUpdater(state, sink))


@pytest_asyncio.fixture
async def env(redis: Redis, test_secret_key: str) -> AsyncIterator[Env]:
    yield Env.over(redis, test_secret_key)


def sendgrid_mail(message_id: str, tenant: str | None = "acme") -> SentEmail:
    custom = {"herald_tenant": tenant, "herald_notification": "n-1"} if tenant else {}
    return SentEmail(
        id=message_id,
        account="k",
        sender="orders@herald.example",
        to=("ana@customer.example",),
        subject="s",
        text="t",
        html=None,
        custom=custom,
        request={},
    )


async def store_sendgrid(env: Env, tenant: str, account: SendGridAccount | None) -> None:
    creds: dict[str, Any] = {
        "apiKey": f"SG.{tenant}",
        "fromEmail": "orders@herald.example",
        "fromName": "Acme",
    }
    if account is not None:
        creds["webhookPublicKey"] = account.public_key
    await env.store.set(tenant, "sendgrid", creds)


async def sendgrid_post(
    env: Env,
    account: SendGridAccount,
    events: list[dict[str, Any]],
    *,
    key: Any = None,
    hint: str | None = None,
    headers: tuple[str | None, str | None] | None = None,
    body: bytes | None = None,
) -> tuple[int, str]:
    raw = body if body is not None else orjson.dumps(events)
    timestamp = str(int(time.time()))
    signature = sign(raw, timestamp, key or account.private_key)
    sig, ts = headers if headers is not None else (signature, timestamp)
    answer = await sendgrid_hooks.handle_events(
        raw, sig, ts, tenant_hint=hint, integrations=env.store, updater=env.updater
    )
    return answer.status, answer.body


async def test_sendgrid_signed_events_become_statuses(env: Env) -> None:
    fake = SendGridSandbox()
    account = fake.add_account("SG.acme")
    await store_sendgrid(env, "acme", account)
    await env.sent("acme", "sendgrid", "MSG1")
    mail = sendgrid_mail("MSG1")
    events = [
        fake.event(mail, "processed"),
        fake.event(mail, "delivered"),
        fake.event(mail, "open"),
    ]
    assert await sendgrid_post(env, account, events) == (200, "ok")
    assert env.statuses() == [("acme", "n-1", Status.DELIVERED), ("acme", "n-1", Status.READ)]
    assert env.sink.statuses[0].metadata == {"order": 7}
    assert env.sink.statuses[0].provider_message_id == "MSG1"
    # Again (SendGrid retries): each status once.
    assert await sendgrid_post(env, account, events) == (200, "ok")
    assert len(env.sink.statuses) == 2


async def test_sendgrid_bounce_fails_and_unknown_ids_are_parked_not_errors(env: Env) -> None:
    fake = SendGridSandbox()
    account = fake.add_account("SG.acme")
    await store_sendgrid(env, "acme", account)
    await env.sent("acme", "sendgrid", "MSG2")
    events = [
        fake.event(sendgrid_mail("MSG2"), "bounce"),
        fake.event(sendgrid_mail("NOPE"), "delivered"),
    ]
    assert await sendgrid_post(env, account, events) == (200, "ok")
    [failed] = env.sink.statuses
    assert failed.status is Status.FAILED
    assert failed.error is not None
    assert failed.error.code == "bounce"
    assert "5.1.1" in failed.error.message
    assert env.updater.counters[Outcome.PARKED] == 1


@pytest.mark.parametrize(
    "case",
    [
        "wrong key",
        "unsigned",
        "no timestamp",
        "tampered",
        "no tenant",
        "no key stored",
        "malformed",
    ],
)
async def test_sendgrid_refusals_emit_nothing(env: Env, case: str) -> None:
    fake = SendGridSandbox()
    account = fake.add_account("SG.acme")
    await store_sendgrid(env, "acme", account)
    await store_sendgrid(env, "nokey", None)
    await env.sent("acme", "sendgrid", "MSG3")
    events = [fake.event(sendgrid_mail("MSG3"), "delivered")]
    options: dict[str, Any] = {
        "wrong key": {"key": fake.add_account("SG.other").private_key},
        "unsigned": {"headers": (None, str(int(time.time())))},
        "no timestamp": {"headers": ("c2ln", None)},
        "no tenant": {},
        "no key stored": {},
        "malformed": {"body": b"[not json"},
        "tampered": {},
    }[case]
    if case == "no tenant":
        events = [fake.event(sendgrid_mail("MSG3", tenant=None), "delivered")]
    if case == "no key stored":
        events = [fake.event(sendgrid_mail("MSG3", tenant="nokey"), "delivered")]
    if case == "tampered":
        raw = orjson.dumps(events)
        timestamp = str(int(time.time()))
        signature = sign(raw, timestamp, account.private_key)
        answer = await sendgrid_hooks.handle_events(
            raw.replace(b'"delivered"', b'"bounce"'),
            signature,
            timestamp,
            tenant_hint=None,
            integrations=env.store,
            updater=env.updater,
        )
        status = answer.status
    else:
        status, _ = await sendgrid_post(env, account, events, **options)
    assert status == 401
    assert env.sink.statuses == []


async def test_sendgrid_tenant_hint_and_shared_keys(env: Env) -> None:
    """One SendGrid account (one key) shared by two tenants; the hint attributes events
    without custom args, and a report never touches a tenant that did not verify."""
    fake = SendGridSandbox()
    shared = fake.add_account("SG.shared")
    other = fake.add_account("SG.other")
    await store_sendgrid(env, "acme", shared)
    await store_sendgrid(env, "beta", shared)
    await store_sendgrid(env, "gamma", other)
    await env.sent("beta", "sendgrid", "BETA1")
    await env.sent("gamma", "sendgrid", "GAMMA1")
    events = [
        fake.event(sendgrid_mail("BETA1", tenant=None), "delivered"),
        fake.event(sendgrid_mail("GAMMA1", tenant=None), "delivered"),
    ]
    assert (await sendgrid_post(env, shared, events, hint="acme"))[0] == 200
    # beta shares acme's key, so its message is updated; gamma's is not (foreign).
    assert env.statuses() == [("beta", "n-1", Status.DELIVERED)]
    # An unknown hint, or a hint of a tenant whose key does not sign this: 401.
    assert (await sendgrid_post(env, shared, events, hint="gamma"))[0] == 401
    assert (await sendgrid_post(env, shared, events, hint="bad tenant id!"))[0] == 401
    assert len(env.sink.statuses) == 1


# --- Mailgun ----------------------------------------------------------------------------


async def store_mailgun(env: Env, tenant: str, signing_key: str, domain: str = DOMAIN) -> None:
    await env.store.set(
        tenant,
        "mailgun",
        {
            "apiKey": f"key-{tenant}",
            "domain": domain,
            "webhookSigningKey": signing_key,
            "fromEmail": f"orders@{domain}",
            "fromName": "Acme",
        },
    )


def mailgun_mail(message_id: str) -> SentEmail:
    return SentEmail(
        id=message_id,
        account=DOMAIN,
        sender=f"Acme <orders@{DOMAIN}>",
        to=("ana@customer.example",),
        subject="s",
        text="t",
        html=None,
        custom={"herald_tenant": "acme"},
        request={},
    )


async def mailgun_sent(
    env: Env, message_id: str
) -> tuple[MailgunSandbox, MailgunDomain, SentEmail]:
    """acme's Mailgun domain on a new fake (stored as its integration, signing key
    ``sig-acme``) and its mail ``message_id`` sent through it: the fake, the domain and
    the mail as the fake keeps it."""
    fake = MailgunSandbox()
    domain = fake.add_domain(DOMAIN, api_key="key-acme", webhook_signing_key="sig-acme")
    await store_mailgun(env, "acme", "sig-acme")
    await env.sent("acme", "mailgun", message_id)
    return fake, domain, mailgun_mail(message_id)


async def mailgun_post(env: Env, body: bytes) -> tuple[int, str]:
    answer = await mailgun_hooks.handle_event(
        body,
        redis=env.redis,
        integrations=env.store,
        updater=env.updater,
        max_age_seconds=MAX_AGE,
    )
    return answer.status, answer.body


async def test_mailgun_signed_events_become_statuses_and_replays_are_refused(env: Env) -> None:
    fake, domain, mail = await mailgun_sent(env, f"20240203.AAA@{DOMAIN}")
    delivered = fake.signed_body(domain, fake.event_data(mail, "delivered"))
    assert await mailgun_post(env, delivered) == (200, "ok")
    assert await mailgun_post(env, delivered) == (406, "token already used")
    temporary = fake.signed_body(domain, fake.event_data(mail, "failed", severity="temporary"))
    assert await mailgun_post(env, temporary) == (200, "ignored")
    opened = fake.signed_body(domain, fake.event_data(mail, "opened"))
    assert await mailgun_post(env, opened) == (200, "ok")
    assert env.statuses() == [("acme", "n-1", Status.DELIVERED), ("acme", "n-1", Status.READ)]


async def test_mailgun_permanent_failure_fails(env: Env) -> None:
    fake, domain, mail = await mailgun_sent(env, f"F1@{DOMAIN}")
    body = fake.signed_body(domain, fake.event_data(mail, "failed"))
    assert await mailgun_post(env, body) == (200, "ok")
    [event] = env.sink.statuses
    assert event.status is Status.FAILED
    assert event.error is not None
    assert (event.error.code, event.error.retryable) == ("550", False)


@pytest.mark.parametrize("case", ["wrong key", "stale", "future", "unknown domain", "malformed"])
async def test_mailgun_refusals_emit_nothing(env: Env, case: str) -> None:
    fake, domain, mail = await mailgun_sent(env, f"R1@{DOMAIN}")
    data = fake.event_data(mail, "delivered")
    now = int(time.time())
    body = {
        "wrong key": lambda: fake.signed_body(domain, data, sign_with="not-the-key"),
        "stale": lambda: fake.signed_body(domain, data, timestamp=now - MAX_AGE - 5),
        "future": lambda: fake.signed_body(domain, data, timestamp=now + MAX_AGE + 5),
        "unknown domain": lambda: fake.signed_body(
            domain,
            {**data, "message": {"headers": {"message-id": "R1@mg.unknown.example"}}},
        ),
        "malformed": lambda: b'{"signature": 1}',
    }[case]()
    status, _ = await mailgun_post(env, body)
    assert status == 401
    assert env.sink.statuses == []


async def test_a_mailgun_webhook_not_applied_can_be_retried(env: Env) -> None:
    """If emitting fails, the token is forgotten so that Mailgun's retry is processed."""

    class FailingSink(MemorySink):
        fail = True

        async def status(self, event: StatusEvent) -> None:
            if self.fail:
                raise ConnectionError("broker down")
            await super().status(event)

    sink = FailingSink()
    env.updater = StatusUpdater(env.state, sink)
    fake, domain, mail = await mailgun_sent(env, f"X1@{DOMAIN}")
    body = fake.signed_body(domain, fake.event_data(mail, "delivered"))
    with pytest.raises(ConnectionError):
        await mailgun_post(env, body)
    sink.fail = False
    assert await mailgun_post(env, body) == (200, "ok")
    assert [e.status for e in sink.statuses] == [Status.DELIVERED]
