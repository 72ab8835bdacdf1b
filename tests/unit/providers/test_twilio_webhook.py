"""Twilio status callbacks: the signature (Twilio's published example), URL candidates,
parsing, and the web handler against a real Redis (bad signature -> 401, nothing emitted)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from providers.twilio import (
    MalformedCallback,
    callback_url,
    candidate_urls,
    compute_signature,
    handle_status_callback,
    load_form,
    parse_status_callback,
    verify_signature,
)
from schemas.status import ErrorInfo, Status
from streams.pipeline.state import NotificationState
from streams.pipeline.updates import Outcome, StatusUpdater
from streams.platform.sink import MemorySink
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from tests.helpers import make_settings, new_secret_key

# Twilio's worked example ("Webhooks security"): auth token 12345, this URL and these
# POST parameters sign to 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
DOC_TOKEN = "12345"
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

ACCOUNT_SID = "AC" + "3f0a" * 8
TOKEN = "tenant-auth-token"
MESSAGE_SID = "SM" + "ab" * 16
PUBLIC_URL = "https://herald.example.com"
URL = f"{PUBLIC_URL}/webhooks/twilio"


def callback(status: str, **extra: str) -> list[tuple[str, str]]:
    params = [
        ("SmsSid", MESSAGE_SID),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", "+5511987654321"),
        ("MessageSid", MESSAGE_SID),
        ("AccountSid", ACCOUNT_SID),
        ("From", "+15005550006"),
        ("ApiVersion", "2010-04-01"),
    ]
    return params + list(extra.items())


# --- signatures -------------------------------------------------------------------------


def test_twilios_published_example() -> None:
    assert compute_signature(DOC_URL, DOC_PARAMS, DOC_TOKEN) == DOC_SIGNATURE
    assert compute_signature(DOC_URL, list(reversed(DOC_PARAMS)), DOC_TOKEN) == DOC_SIGNATURE
    assert verify_signature(DOC_URL, DOC_PARAMS, DOC_SIGNATURE, DOC_TOKEN)


@pytest.mark.parametrize(
    ("url", "params", "header", "token"),
    [
        (DOC_URL, [*DOC_PARAMS[:2], ("Digits", "9999"), *DOC_PARAMS[3:]], DOC_SIGNATURE, DOC_TOKEN),
        (DOC_URL, [*DOC_PARAMS, ("Extra", "")], DOC_SIGNATURE, DOC_TOKEN),
        ("https://mycompany.com/myapp.php?foo=1&bar=3", DOC_PARAMS, DOC_SIGNATURE, DOC_TOKEN),
        ("http://mycompany.com/myapp.php?foo=1&bar=2", DOC_PARAMS, DOC_SIGNATURE, DOC_TOKEN),
        (DOC_URL, DOC_PARAMS, DOC_SIGNATURE, "54321"),
        (DOC_URL, DOC_PARAMS, DOC_SIGNATURE[:-1], DOC_TOKEN),
        (DOC_URL, DOC_PARAMS, None, DOC_TOKEN),
        (DOC_URL, DOC_PARAMS, "", DOC_TOKEN),
        (DOC_URL, DOC_PARAMS, DOC_SIGNATURE, ""),
    ],
)
def test_anything_else_does_not_verify(
    url: str, params: list[tuple[str, str]], header: str | None, token: str
) -> None:
    assert not verify_signature(url, params, header, token)


def test_the_default_port_may_be_added_or_removed() -> None:
    assert candidate_urls("https://h.example/x?a=1") == [
        "https://h.example/x?a=1",
        "https://h.example:443/x?a=1",
    ]
    assert candidate_urls("https://h.example:443/x") == [
        "https://h.example:443/x",
        "https://h.example/x",
    ]
    assert candidate_urls("http://h.example:8080/x") == ["http://h.example:8080/x"]
    signed_with_port = compute_signature(
        "https://mycompany.com:443/myapp.php?foo=1&bar=2", DOC_PARAMS, DOC_TOKEN
    )
    assert verify_signature(DOC_URL, DOC_PARAMS, signed_with_port, DOC_TOKEN)


def test_the_public_url_replaces_what_a_proxy_changed() -> None:
    received = "http://10.0.0.7:6066/webhooks/twilio?tenant=acme%20x"
    assert callback_url("https://herald.example.com/", received) == [
        "https://herald.example.com/webhooks/twilio?tenant=acme%20x",
        received,
    ]
    assert callback_url(None, received) == [received]


# --- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("queued", Status.SENT),
        ("sent", Status.SENT),
        ("delivered", Status.DELIVERED),
        ("read", Status.READ),
        ("undelivered", Status.FAILED),
        ("failed", Status.FAILED),
    ],
)
def test_statuses_map(raw: str, status: Status) -> None:
    parsed = parse_status_callback(callback(raw, ErrorCode="30007"))
    assert parsed is not None
    assert (parsed.status, parsed.provider_message_id, parsed.account_sid) == (
        status,
        MESSAGE_SID,
        ACCOUNT_SID,
    )
    if status is Status.FAILED:
        assert parsed.error == ErrorInfo(
            code="30007", message="Message filtered by the carrier", retryable=False
        )
    else:
        assert parsed.error is None


def test_untracked_statuses_are_ignored() -> None:
    assert parse_status_callback(callback("scheduled")) is None
    assert parse_status_callback(callback("receiving")) is None


def test_the_older_sms_parameters_are_enough() -> None:
    params = [("SmsSid", MESSAGE_SID), ("SmsStatus", "delivered"), ("AccountSid", ACCOUNT_SID)]
    parsed = parse_status_callback(params)
    assert parsed is not None
    assert parsed.status is Status.DELIVERED


@pytest.mark.parametrize(
    "params",
    [
        [("MessageStatus", "delivered"), ("AccountSid", ACCOUNT_SID)],
        [("MessageSid", MESSAGE_SID), ("AccountSid", ACCOUNT_SID)],
        [("MessageSid", MESSAGE_SID), ("MessageStatus", "delivered")],
        [("MessageSid", "SM/../x"), ("MessageStatus", "sent"), ("AccountSid", ACCOUNT_SID)],
        [*callback("failed"), ("ErrorCode", "abc")],
        [*callback("failed"), ("ErrorCode", "1"), ("ErrorCode", "2")],
    ],
)
def test_malformed_callbacks_raise_malformed_callback(params: list[tuple[str, str]]) -> None:
    with pytest.raises(MalformedCallback):
        parse_status_callback(params)


def test_load_form_refuses_what_is_not_a_form() -> None:
    assert load_form(b"") == []
    assert load_form(b"A=1&B=%2B2") == [("A", "1"), ("B", "+2")]
    for raw in (b"\xff\xfe", b"no-equals-sign", b"a=1&&&b"):
        with pytest.raises(MalformedCallback):
            load_form(raw)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_raise_nothing_but_malformed_callback(raw: bytes) -> None:
    with contextlib.suppress(MalformedCallback):
        parse_status_callback(load_form(raw))


# --- the handler ------------------------------------------------------------------------


@dataclass
class Hook:
    store: IntegrationStore
    state: NotificationState
    sink: MemorySink
    updater: StatusUpdater

    async def post(
        self,
        params: list[tuple[str, str]],
        *,
        token: str = TOKEN,
        url: str = URL,
        header: str | None = "sign",
    ) -> int:
        signature = compute_signature(url, params, token) if header == "sign" else header
        answer = await handle_status_callback(
            urlencode(params).encode(),
            request_url="http://127.0.0.1:6066/webhooks/twilio",
            public_url=PUBLIC_URL,
            signature=signature,
            integrations=self.store,
            updater=self.updater,
        )
        return answer.status


@pytest_asyncio.fixture
async def hook(redis: Redis) -> AsyncIterator[Hook]:
    store = IntegrationStore(
        redis, Cipher.from_settings(make_settings(secret_key=new_secret_key()))
    )
    creds = {"accountSid": ACCOUNT_SID, "authToken": TOKEN, "fromPhone": "+15005550006"}
    await store.set("acme", "twilio", creds, is_default=True)
    await store.set("globex", "twilio", {**creds, "authToken": "globex-token"})
    state = NotificationState(redis, ttl_seconds=3600, correlation_ttl_seconds=3600)
    sink = MemorySink()
    yield Hook(store, state, sink, StatusUpdater(state, sink))


async def sent(hook: Hook, tenant: str = "acme") -> None:
    await hook.state.claim(tenant, "n-1")
    await hook.state.mark_accepted(
        tenant, "n-1", channel="sms", provider="twilio", metadata={"k": 1}
    )
    await hook.state.record_sent(tenant, "n-1", "twilio", MESSAGE_SID)


async def test_signed_callbacks_become_status_events_once(hook: Hook) -> None:
    await sent(hook)
    assert await hook.post(callback("sent")) == 200  # a duplicate of the router's "sent"
    assert await hook.post(callback("delivered")) == 200
    assert await hook.post(callback("delivered")) == 200
    assert await hook.post(callback("undelivered", ErrorCode="30003")) == 200
    assert [(e.status, e.tenant_id, e.provider_message_id) for e in hook.sink.statuses] == [
        (Status.DELIVERED, "acme", MESSAGE_SID),
        (Status.FAILED, "acme", MESSAGE_SID),
    ]
    failed = hook.sink.statuses[-1]
    assert failed.error is not None
    assert failed.error.code == "30003"
    assert failed.metadata == {"k": 1}


@pytest.mark.parametrize(
    ("kwargs", "params"),
    [
        ({"token": "wrong"}, callback("delivered")),
        ({"header": None}, callback("delivered")),
        ({"header": "bm90IGEgc2lnbmF0dXJl"}, callback("delivered")),
        ({"url": "http://127.0.0.1:9999/webhooks/twilio"}, callback("delivered")),
        ({}, [(k, v) for k, v in callback("delivered") if k != "AccountSid"]),
        ({}, [(k, "AC" + "0" * 32 if k == "AccountSid" else v) for k, v in callback("delivered")]),
    ],
)
async def test_unauthenticated_callbacks_are_refused_and_emit_nothing(
    hook: Hook, kwargs: dict[str, str], params: list[tuple[str, str]]
) -> None:
    await sent(hook)
    assert await hook.post(params, **kwargs) == 401
    assert hook.sink.statuses == []


async def test_garbage_bodies_get_a_clean_answer(hook: Hook) -> None:
    for raw in (b"\xff\xfe\x00", b"a=1&&b", b"{}", b"", b"AccountSid=" + ACCOUNT_SID.encode()):
        answer = await handle_status_callback(
            raw,
            request_url=URL,
            public_url=None,
            signature="x",
            integrations=hook.store,
            updater=hook.updater,
        )
        assert answer.status == 401
    signed_but_malformed = [("AccountSid", ACCOUNT_SID), ("MessageStatus", "delivered")]
    assert await hook.post(signed_but_malformed) == 400
    assert hook.sink.statuses == []


async def test_a_tenant_cannot_report_on_another_tenants_message(hook: Hook) -> None:
    await sent(hook, tenant="acme")
    # Signed by globex's token (same account SID, another tenant): authenticated for
    # globex only, so acme's notification is not touched.
    assert await hook.post(callback("delivered"), token="globex-token") == 200
    assert hook.sink.statuses == []
    assert hook.updater.counters[Outcome.FOREIGN] == 1


async def test_an_early_callback_is_parked_then_replayed(hook: Hook) -> None:
    assert await hook.post(callback("delivered")) == 200
    assert hook.sink.statuses == []
    await hook.state.claim("acme", "n-1")
    await hook.state.mark_accepted("acme", "n-1", channel="sms", provider="twilio", metadata={})
    parked = await hook.state.record_sent("acme", "n-1", "twilio", MESSAGE_SID)
    assert [p.status for p in parked] == [Status.DELIVERED]


async def test_the_system_integrations_token_reaches_tenants_using_it(hook: Hook) -> None:
    # acme sent through the system default integration (same account, system token).
    await hook.store.set(
        "_system",
        "twilio",
        {"accountSid": ACCOUNT_SID, "authToken": "system-token", "fromPhone": "+15005550006"},
    )
    await sent(hook, tenant="acme")
    assert await hook.post(callback("delivered"), token="system-token") == 200
    assert [(e.tenant_id, e.status) for e in hook.sink.statuses] == [("acme", Status.DELIVERED)]
