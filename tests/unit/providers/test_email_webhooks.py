"""Webhook helpers of sendgrid and mailgun: signatures, parsing, malformed input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers import mailgun, sendgrid
from providers.sendgrid import SendGridCredentials, normalize_public_key
from schemas.status import ErrorInfo, Status

PRIVATE = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(
    PRIVATE.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
).decode()
OTHER = ec.generate_private_key(ec.SECP256R1())

# --- SendGrid -------------------------------------------------------------------------------

EVENTS = [
    {
        "email": "ana@customer.example",
        "timestamp": 1700000000,
        "event": "processed",
        "sg_event_id": "p1",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "herald_tenant": "acme",
    },
    {
        "email": "ana@customer.example",
        "timestamp": 1700000001,
        "event": "delivered",
        "response": "250 OK",
        "sg_event_id": "d1",
        "sg_message_id": "W3YyP0_5Qk2Zs3Yw6fS1ZA.filterdrecv-5bd4b7c7f7-1-ABC-0.0",
        "herald_tenant": "acme",
    },
    {"event": "open", "sg_message_id": "W3YyP0_5Qk2Zs3Yw6fS1ZA.x", "herald_tenant": "acme"},
    {
        "event": "bounce",
        "type": "blocked",
        "status": "5.7.1",
        "reason": "550 5.7.1 blocked",
        "sg_message_id": "B1.x",
    },
    {"event": "dropped", "reason": "Bounced Address", "status": "5.0.0", "sg_message_id": "D1.y"},
    {"event": "click", "sg_message_id": "C1.z"},
    {"event": "delivered"},  # no id: skipped
]


def signed(body: bytes, key: ec.EllipticCurvePrivateKey = PRIVATE) -> tuple[str, str]:
    timestamp = str(int(time.time()))
    return sendgrid.sign(body, timestamp, key), timestamp


def test_a_sendgrid_signature_verifies_with_the_public_key() -> None:
    body = orjson.dumps(EVENTS)
    signature, timestamp = signed(body)
    # Independently: ECDSA P-256 / SHA-256 over timestamp + body, base64 DER.
    PRIVATE.public_key().verify(
        base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
    )
    assert sendgrid.verify_signature(body, signature, timestamp, PUBLIC)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda body, sig, ts, key: (body + b" ", sig, ts, key),
        lambda body, sig, ts, key: (body, sig, str(int(ts) + 1), key),
        lambda body, sig, ts, key: (body, sendgrid.sign(body, ts, OTHER), ts, key),
        lambda body, sig, ts, key: (body, None, ts, key),
        lambda body, sig, ts, key: (body, "", ts, key),
        lambda body, sig, ts, key: (body, sig, None, key),
        lambda body, sig, ts, key: (body, sig, ts, None),
        lambda body, sig, ts, key: (body, "not base64 !!", ts, key),
        lambda body, sig, ts, key: (body, base64.b64encode(b"junk").decode(), ts, key),
        lambda body, sig, ts, key: (body, sig, "é", key),
        lambda body, sig, ts, key: (body, sig, ts, "bm90IGEga2V5"),
    ],
)
def test_a_bad_or_missing_sendgrid_signature_does_not_verify(mutate: Any) -> None:
    body = orjson.dumps(EVENTS)
    signature, timestamp = signed(body)
    assert not sendgrid.verify_signature(*mutate(body, signature, timestamp, PUBLIC))


def test_sendgrid_events_become_statuses() -> None:
    statuses = sendgrid.parse_events(EVENTS)
    assert [(s.provider_message_id, s.status, s.tenant) for s in statuses] == [
        ("W3YyP0_5Qk2Zs3Yw6fS1ZA", Status.DELIVERED, "acme"),
        ("W3YyP0_5Qk2Zs3Yw6fS1ZA", Status.READ, "acme"),
        ("B1", Status.FAILED, None),
        ("D1", Status.FAILED, None),
    ]
    assert statuses[2].error == ErrorInfo(code="blocked", message="5.7.1 550 5.7.1 blocked")
    assert statuses[3].error == ErrorInfo(code="dropped", message="5.0.0 Bounced Address")
    assert sendgrid.claimed_tenants(EVENTS) == {"acme"}
    assert sendgrid.message_id_of("abc.def.ghi") == "abc"


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"{}", b'"x"', b"[1]", b'[{"event": "open"}, null]', b"\xff"]
)
def test_malformed_sendgrid_bodies_raise_malformed_webhook(raw: bytes) -> None:
    with pytest.raises(sendgrid.MalformedWebhook):
        sendgrid.load_events(raw)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["event", "sg_message_id", "herald_tenant", "type", "reason", "x"]),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(json_values | st.lists(json_values, max_size=4))
def test_random_sendgrid_bodies_raise_nothing_but_malformed_webhook(value: Any) -> None:
    try:
        events = sendgrid.load_events(orjson.dumps(value))
    except sendgrid.MalformedWebhook:
        return
    sendgrid.claimed_tenants(events)
    sendgrid.parse_events(events)


def test_credentials_take_the_public_key_as_sendgrid_shows_it() -> None:
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + PUBLIC[:40]
        + "\n"
        + PUBLIC[40:]
        + "\n-----END PUBLIC KEY-----"
    )
    assert normalize_public_key(pem) == PUBLIC
    p384 = base64.b64encode(
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    with pytest.raises(ValueError, match="P-256"):
        normalize_public_key(p384)
    with pytest.raises(ValueError, match="webhookPublicKey"):
        SendGridCredentials.model_validate(
            {"apiKey": "k", "fromEmail": "a@b.example", "fromName": "A", "webhookPublicKey": "x"}
        )


# --- Mailgun --------------------------------------------------------------------------------

SIGNING_KEY = "whsec-key"
DOMAIN = "mg.herald.example"


def mailgun_body(event_data: dict[str, Any], **signature: Any) -> bytes:
    timestamp = str(int(time.time()))
    token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    digest = hmac.new(
        SIGNING_KEY.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    sig = {"timestamp": timestamp, "token": token, "signature": digest, **signature}
    return orjson.dumps({"signature": sig, "event-data": event_data})


def event_data(event: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": event,
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": 1521233195.375624,
        "recipient": "ana@customer.example",
        "envelope": {"sender": f"orders@{DOMAIN}"},
        "message": {"headers": {"message-id": f"<20240203.1A2B@{DOMAIN}>"}},
        **extra,
    }


def test_a_mailgun_signature_verifies() -> None:
    webhook = mailgun.load_webhook(mailgun_body(event_data("delivered")))
    assert mailgun.sign(webhook.timestamp, webhook.token, SIGNING_KEY) == webhook.signature
    assert mailgun.verify_signature(
        webhook.timestamp, webhook.token, webhook.signature.upper(), SIGNING_KEY
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("timestamp", "1"), ("token", "other-token"), ("signature", "0" * 64), ("signature", "zz")],
)
def test_a_bad_mailgun_signature_does_not_verify(field: str, value: str) -> None:
    webhook = mailgun.load_webhook(mailgun_body(event_data("delivered"), **{field: value}))
    assert not mailgun.verify_signature(
        webhook.timestamp, webhook.token, webhook.signature, SIGNING_KEY
    )
    assert not mailgun.verify_signature("1", "t", "s", None)
    assert not mailgun.verify_signature("1", "t", "s", "")


def test_freshness() -> None:
    now = time.time()
    assert mailgun.is_fresh(str(int(now) - 60), now, 900)
    assert not mailgun.is_fresh(str(int(now) - 901), now, 900)
    assert not mailgun.is_fresh(str(int(now) + 901), now, 900)
    assert not mailgun.is_fresh("soon", now, 900)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (event_data("delivered"), (Status.DELIVERED, None)),
        (event_data("opened"), (Status.READ, None)),
        (
            event_data(
                "failed",
                severity="permanent",
                reason="bounce",
                **{"delivery-status": {"code": 550, "message": "5.1.1 no such user"}},
            ),
            (Status.FAILED, ErrorInfo(code="550", message="5.1.1 no such user")),
        ),
        (
            event_data("failed", severity="permanent", reason="suppress-bounce"),
            (Status.FAILED, ErrorInfo(code="suppress-bounce", message="suppress-bounce")),
        ),
        (event_data("failed", severity="temporary"), None),
        (event_data("clicked"), None),
        (event_data("accepted"), None),
    ],
)
def test_mailgun_events_become_statuses(data: dict[str, Any], expected: Any) -> None:
    event = mailgun.parse_event(data)
    if expected is None:
        assert event is None
    else:
        assert event is not None
        assert (event.status, event.error) == expected
        assert event.provider_message_id == f"20240203.1A2B@{DOMAIN}"
    assert mailgun.sending_domain(data) == DOMAIN


def test_the_sending_domain_falls_back_on_the_envelope() -> None:
    data = event_data("delivered")
    del data["message"]
    assert mailgun.sending_domain(data) == DOMAIN
    del data["envelope"]
    assert mailgun.sending_domain(data) is None
    with pytest.raises(mailgun.MalformedWebhook):
        mailgun.parse_event(data)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b"\xff",
        b'{"event-data": {}}',
        b'{"signature": {}, "event-data": {}}',
        b'{"signature": {"timestamp": "1", "token": "t"}, "event-data": {}}',
        b'{"signature": {"timestamp": "1", "token": "t", "signature": "s"}, "event-data": []}',
        b'{"signature": "x", "event-data": {}}',
    ],
)
def test_malformed_mailgun_bodies_raise_malformed_webhook(raw: bytes) -> None:
    with pytest.raises(mailgun.MalformedWebhook):
        mailgun.load_webhook(raw)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["signature", "event-data", "x"]),
        st.dictionaries(
            st.sampled_from(
                ["timestamp", "token", "signature", "event", "severity", "message", "envelope"]
            ),
            json_values,
            max_size=6,
        )
        | json_values,
        max_size=3,
    )
)
def test_random_mailgun_bodies_raise_nothing_but_malformed_webhook(value: Any) -> None:
    try:
        webhook = mailgun.load_webhook(orjson.dumps(value))
        mailgun.sending_domain(webhook.event_data)
        mailgun.parse_event(webhook.event_data)
    except mailgun.MalformedWebhook:
        return
