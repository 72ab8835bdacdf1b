from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import DeadLetterReason
from streams.pipeline.decode import DeadLetter, Decoded, Invalid, RawRecord, decode, ordering_key

VALID = {
    "id": "n-1",
    "tenantId": "acme",
    "channel": "whatsapp",
    "recipient": {"phone": "+55 11 99999-0000"},
    "content": {"body": "hello"},
    "metadata": {"orderId": 7},
}


def rec(value: bytes | None, key: bytes | None = b"acme") -> RawRecord:
    return RawRecord(key=key, value=value, topic="t", partition=3, offset=42)


def test_valid_request_decodes() -> None:
    out = decode(rec(orjson.dumps(VALID)), max_bytes=1 << 20)
    assert isinstance(out, Decoded)
    assert out.request.tenant_id == "acme"
    assert out.request.metadata == {"orderId": 7}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, DeadLetterReason.NOT_JSON),
        (b"", DeadLetterReason.NOT_JSON),
        (b"\xff\xfe garbage", DeadLetterReason.NOT_UTF8),
        (b"{not json", DeadLetterReason.NOT_JSON),
        (b"[1, 2]", DeadLetterReason.NOT_AN_OBJECT),
        (b'{"tenantId": "acme"}', DeadLetterReason.MISSING_ID),
        (b'{"id": 5, "tenantId": "acme"}', DeadLetterReason.MISSING_ID),
        (b'{"id": "x"}', DeadLetterReason.MISSING_TENANT),
        (b'{"id": "x", "tenantId": "a b/c"}', DeadLetterReason.INVALID_TENANT),
    ],
)
def test_undecodable_input_is_a_dead_letter(value: bytes | None, reason: DeadLetterReason) -> None:
    out = decode(rec(value), max_bytes=1 << 20)
    assert isinstance(out, DeadLetter)
    assert out.info.reason is reason
    assert (out.info.topic, out.info.partition, out.info.offset) == ("t", 3, 42)
    assert out.record.value == value  # original bytes kept


def test_too_large_is_a_dead_letter() -> None:
    out = decode(rec(b"x" * 2048), max_bytes=1024)
    assert isinstance(out, DeadLetter)
    assert out.info.reason is DeadLetterReason.TOO_LARGE


def test_schema_violation_is_invalid_with_field_names() -> None:
    bad = {**VALID, "channel": "pigeon", "recipient": {}}
    out = decode(rec(orjson.dumps(bad)), max_bytes=1 << 20)
    assert isinstance(out, Invalid)
    assert (out.tenant_id, out.notification_id) == ("acme", "n-1")
    assert "channel" in out.message
    assert "recipient" in out.message
    assert out.metadata == {"orderId": 7}


def test_dead_letter_headers_round_trip() -> None:
    out = decode(rec(b"nope"), max_bytes=1024)
    assert isinstance(out, DeadLetter)
    again = type(out.info).from_headers(out.info.headers())
    assert again.reason is out.info.reason
    assert again.offset == 42


def test_ordering_key_groups_by_recipient() -> None:
    a = decode(rec(orjson.dumps(VALID)), max_bytes=1 << 20)
    b = decode(rec(orjson.dumps({**VALID, "id": "n-2"})), max_bytes=1 << 20)
    c = decode(
        rec(orjson.dumps({**VALID, "recipient": {"phone": "+1 555 0100 222"}})), max_bytes=1 << 20
    )
    assert isinstance(a, Decoded)
    assert isinstance(b, Decoded)
    assert isinstance(c, Decoded)
    assert ordering_key(a.request) == ordering_key(b.request)
    assert ordering_key(a.request) != ordering_key(c.request)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_never_raise(value: bytes) -> None:
    out = decode(rec(value), max_bytes=256)
    assert isinstance(out, DeadLetter | Invalid | Decoded)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*VALID, "x"]), json_values, max_size=8))
def test_random_objects_end_in_dlq_or_invalid_or_valid(obj: dict[str, object]) -> None:
    merged = {**obj}
    out = decode(rec(json.dumps(merged).encode()), max_bytes=1 << 20)
    if isinstance(out, DeadLetter):
        assert out.info.reason in set(DeadLetterReason)
    elif isinstance(out, Invalid):
        assert out.message
    else:
        assert out.request.id == merged["id"]
