"""Webhook helpers of whatsapp-business: signatures, the challenge, status parsing."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.whatsapp_business import (
    Challenge,
    MalformedWebhook,
    WebhookStatus,
    answer_challenge,
    load_payload,
    parse_challenge,
    parse_statuses,
    phone_number_ids,
    sign,
    verify_signature,
)
from schemas.status import ErrorInfo, Status

SECRET = "app-secret"
WAMID = "wamid.HBgNNTUxNjk5MjMxODIyMhUCABEYEjgxQkVFRDVBQTVDODFDOTg3MQA="


def status_item(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": WAMID,
        "status": status,
        "timestamp": "1750857384",
        "recipient_id": "5516992318222",
        **extra,
    }


def payload(*statuses: dict[str, Any], phone_number_id: str = "590968830767958") -> dict[str, Any]:
    """Shaped like Meta's documented status notification."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1314702302917944",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15556459128",
                                "phone_number_id": phone_number_id,
                            },
                            "statuses": list(statuses),
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


SENT = status_item(
    "sent",
    conversation={
        "id": "a75d17ad06104c51166f948319b03c6a",
        "expiration_timestamp": "1750943820",
        "origin": {"type": "service"},
    },
    pricing={"billable": True, "pricing_model": "CBP", "category": "service"},
)
FAILED = status_item(
    "failed",
    errors=[
        {
            "code": 131026,
            "title": "Message undeliverable",
            "message": "Message undeliverable",
            "error_data": {"details": "Message Undeliverable."},
            "href": "/documentation/business-messaging/whatsapp/support/error-codes",
        }
    ],
)

# --- signatures -------------------------------------------------------------------------


def test_a_correct_signature_verifies() -> None:
    body = orjson.dumps(payload(SENT))
    header = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(body, SECRET) == header
    assert verify_signature(body, header, SECRET)
    assert verify_signature(body, header.upper().replace("SHA256=", "sha256="), SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        "sha256=" + "0" * 64,
        "sha256=zz",
        "sha256=é" * 3,
        sign(b"other body", SECRET),
        sign(orjson.dumps(payload(SENT)), "wrong-secret"),
        sign(orjson.dumps(payload(SENT)), SECRET)[len("sha256=") :],
    ],
)
def test_a_bad_or_missing_signature_does_not_verify(header: str | None) -> None:
    assert not verify_signature(orjson.dumps(payload(SENT)), header, SECRET)


def test_an_empty_secret_never_verifies() -> None:
    body = b"{}"
    assert not verify_signature(body, sign(body, ""), "")


def test_one_changed_byte_breaks_the_signature() -> None:
    body = orjson.dumps(payload(SENT))
    header = sign(body, SECRET)
    assert not verify_signature(body.replace(b"sent", b"read"), header, SECRET)


# --- challenge ----------------------------------------------------------------------------


def test_the_challenge_is_echoed_for_the_right_token() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert parse_challenge(query) == Challenge(verify_token="tok", challenge="1158201444")
    assert answer_challenge(query, "tok") == "1158201444"
    assert answer_challenge(query, "other") is None
    assert answer_challenge(query, "") is None


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "tok"},
        {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "x" * 513},
    ],
)
def test_a_malformed_challenge_is_refused(query: dict[str, str]) -> None:
    with pytest.raises(MalformedWebhook):
        parse_challenge(query)
    assert answer_challenge(query, "tok") is None


# --- statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "status"),
    [
        (SENT, Status.SENT),
        (status_item("delivered"), Status.DELIVERED),
        (status_item("read"), Status.READ),
    ],
)
def test_each_status_is_parsed(item: dict[str, Any], status: Status) -> None:
    assert parse_statuses(payload(item)) == [
        WebhookStatus(
            phone_number_id="590968830767958",
            provider_message_id=WAMID,
            status=status,
            timestamp=datetime(2025, 6, 25, 13, 16, 24, tzinfo=UTC),
            recipient_id="5516992318222",
            error=None,
        )
    ]


def test_a_failed_status_carries_its_first_error() -> None:
    (parsed,) = parse_statuses(payload(FAILED))
    assert parsed.status is Status.FAILED
    assert parsed.error == ErrorInfo(
        code="131026",
        message="Message undeliverable: Message Undeliverable.",
        retryable=False,
    )


def test_untracked_statuses_and_other_fields_are_skipped() -> None:
    data = payload(status_item("deleted"), status_item("warning"), status_item("read"))
    data["entry"][0]["changes"].append(
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}}
    )
    inbound = copy.deepcopy(payload())
    value = inbound["entry"][0]["changes"][0]["value"]
    del value["statuses"]
    value["messages"] = [{"from": "1", "id": "wamid.in", "type": "text"}]
    data["entry"].extend(inbound["entry"])
    assert [s.status for s in parse_statuses(data)] == [Status.READ]


def test_statuses_keep_payload_order_across_entries() -> None:
    data = payload(status_item("sent"), phone_number_id="1")
    data["entry"] += payload(status_item("delivered"), phone_number_id="2")["entry"]
    parsed = parse_statuses(data)
    assert [(s.phone_number_id, s.status) for s in parsed] == [
        ("1", Status.SENT),
        ("2", Status.DELIVERED),
    ]
    assert phone_number_ids(data) == {"1", "2"}


def test_load_payload_accepts_only_json_objects() -> None:
    assert load_payload(orjson.dumps(payload(SENT)))["object"] == "whatsapp_business_account"
    for raw in (b"", b"not json", b"[]", b"1", b"\xff\xfe"):
        with pytest.raises(MalformedWebhook):
            load_payload(raw)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(object="page"),
        lambda d: d.pop("entry"),
        lambda d: d.update(entry={}),
        lambda d: d["entry"][0].update(changes=None),
        lambda d: d["entry"][0]["changes"][0].update(value=[]),
        lambda d: d["entry"][0]["changes"][0]["value"].pop("metadata"),
        lambda d: d["entry"][0]["changes"][0]["value"]["metadata"].update(phone_number_id=None),
        lambda d: d["entry"][0]["changes"][0]["value"].update(statuses={"id": 1}),
        lambda d: d["entry"][0]["changes"][0]["value"]["statuses"][0].pop("id"),
        lambda d: d["entry"][0]["changes"][0]["value"]["statuses"][0].update(status=["x"]),
        lambda d: d["entry"][0]["changes"][0]["value"]["statuses"][0].update(timestamp="soon"),
        lambda d: d["entry"][0]["changes"][0]["value"]["statuses"][0].update(timestamp="9" * 40),
        lambda d: d["entry"][0]["changes"][0]["value"]["statuses"][0].update(timestamp=True),
        lambda d: d["entry"][0]["changes"][0]["value"]["statuses"][0].update(errors="boom"),
        lambda d: d["entry"][0]["changes"][0]["value"]["statuses"][0].update(errors=[{}]),
        lambda d: d["entry"][0]["changes"][0]["value"]["statuses"][0].update(recipient_id={}),
    ],
)
def test_malformed_payloads_raise_malformed_webhook(mutate: Any) -> None:
    data = copy.deepcopy(payload(FAILED))
    mutate(data)
    with pytest.raises(MalformedWebhook):
        parse_statuses(data)


# --- properties ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)


def _near(
    status: Any, timestamp: Any, recipient: Any, errors: Any, number: Any, extra: Any
) -> dict[str, Any]:
    item = {"id": WAMID, "status": status, "timestamp": timestamp, "recipient_id": recipient}
    if errors is not None:
        item["errors"] = errors
    data = payload(item, phone_number_id=number)
    if extra is not None:
        data["entry"][0]["changes"].append(extra)
    return data


# Payloads that look almost right: the documented skeleton with random parts swapped in.
near_payloads = st.builds(
    _near,
    st.sampled_from(["sent", "delivered", "read", "failed", "deleted"]) | json_values,
    st.sampled_from(["1750857384", "0", "-1", "99999999999999"]) | json_values,
    st.text(max_size=5) | json_values,
    st.none() | st.lists(json_values, max_size=2),
    st.text(max_size=5) | json_values,
    st.none() | json_values,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, near_payloads))
def test_random_payloads_raise_nothing_but_malformed_webhook(data: Any) -> None:
    for parse in (parse_statuses, phone_number_ids):
        with contextlib.suppress(MalformedWebhook):
            parse(data)


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_random_bytes_raise_nothing_but_malformed_webhook(raw: bytes) -> None:
    try:
        data = load_payload(raw)
    except MalformedWebhook:
        return
    with contextlib.suppress(MalformedWebhook):
        parse_statuses(data)
