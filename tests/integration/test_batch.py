"""The batch path (``BatchRouter``) against a real redis-server, the WhatsApp Business
fake over loopback and a :class:`MemorySink`: no broker, no Faust."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from schemas import DeadLetterReason, NotificationRequest, Status
from schemas.retry import RetryEnvelope, RetryReason
from schemas.status import utcnow
from streams.pipeline.batchstate import BEGAN, BatchState, ClaimItem, SentItem
from streams.pipeline.decode import RawRecord
from streams.pipeline.state import NotificationState, ParkedStatus
from streams.tenancy import keys
from streams.tenancy.crypto import Cipher, generate_key
from streams.tenancy.integrations import IntegrationStore
from tests.helpers import make_settings
from tests.integration.batch_rig import (
    TENANTS,
    Rig,
    request,
)

pytestmark = pytest.mark.integration


async def _commands(redis: Redis) -> int:
    info = await redis.info("commandstats")
    return sum(
        int(v["calls"]) for k, v in info.items() if isinstance(v, dict) and k != "cmdstat_info"
    )


async def test_a_batch_is_accepted_then_sent_with_few_redis_commands(
    rig: Callable[..., Awaitable[Rig]],
) -> None:
    r = await rig(rate_limits={"whatsapp-business": {"perSecond": 1000, "burst": 1000}})
    bodies = [request(TENANTS[i % 2]) for i in range(60)]  # within the bulkheads (32)
    await r.redis.config_resetstat()  # type: ignore[no-untyped-call]
    await r.route([r.record(b) for b in bodies])
    used = await _commands(r.redis)
    for body in bodies:
        assert [e.status for e in r.sink.of(body["id"])] == [Status.ACCEPTED, Status.SENT]
    assert len(r.sandbox.messages) == 60
    wamids = {m.wamid for m in r.sandbox.messages}
    assert {r.sink.of(b["id"])[-1].provider_message_id for b in bodies} == wamids
    assert used / 60 <= 8, f"{used / 60:.1f} Redis commands per request"


async def test_one_recipient_keeps_its_order_within_a_batch(
    rig: Callable[..., Awaitable[Rig]],
) -> None:
    r = await rig()
    bodies = [request(phone="+5511999990001") for _ in range(5)]
    await r.route([r.record(b) for b in bodies])
    sent_to = [m.to for m in r.sandbox.messages]
    assert sent_to == ["5511999990001"] * 5
    sent_ids = [e.notification_id for e in r.sink.statuses if e.status is Status.SENT]
    assert sent_ids == [b["id"] for b in bodies]


async def test_a_replayed_record_re_emits_and_a_duplicate_does_not(
    rig: Callable[..., Awaitable[Rig]],
) -> None:
    r = await rig()
    body = request()
    first = r.record(body)
    await r.route([first])
    assert len(r.sink.of(body["id"])) == 2
    # The same Kafka record again (a crash before its offset was committed): its events
    # are produced again, with the same eventIds; the provider is not called again.
    await r.route([r.record(body, offset=first.offset)])
    events = r.sink.of(body["id"])
    assert [e.status for e in events] == [Status.ACCEPTED, Status.SENT] * 2
    assert events[1].event_id == events[3].event_id
    assert len(r.sandbox.messages) == 1
    # The same request in another record: a duplicate, nothing happens.
    await r.route([r.record(body)])
    assert len(r.sink.of(body["id"])) == 4
    assert len(r.sandbox.messages) == 1


async def test_over_the_rate_limit_requests_wait_and_are_all_sent(
    rig: Callable[..., Awaitable[Rig]],
) -> None:
    r = await rig(rate_limits={"whatsapp-business": {"perSecond": 20, "burst": 3}})
    bodies = [request() for _ in range(8)]
    await r.route([r.record(b) for b in bodies])
    for body in bodies:
        assert [e.status for e in r.sink.of(body["id"])][-1] == Status.SENT
    assert len(r.sandbox.messages) == 8


async def test_unreadable_credentials_end_in_failed_with_a_code(
    rig: Callable[..., Awaitable[Rig]], redis: Redis
) -> None:
    r = await rig()
    # An integration stored under another secret key (a key change without rotation).
    other = Cipher.from_settings(make_settings(secret_key=generate_key()))
    await IntegrationStore(redis, other).set(
        "initech",
        "whatsapp-business",
        {"phoneNumberId": "1", "accessToken": "t", "appSecret": "s", "verifyToken": "v"},
        is_default=True,
    )
    body = request("initech")
    await r.route([r.record(body)])
    [event] = r.sink.of(body["id"])
    assert event.status is Status.FAILED
    assert event.error is not None
    assert event.error.code == "credentials_unreadable"
    assert event.error.retryable
    assert r.sandbox.messages == []


def break_state(monkeypatch: pytest.MonkeyPatch, r: Rig, method: str, error: Exception) -> None:
    """The batch router's state ``method`` raises ``error`` from now on."""

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(r.runtime.batch_router.state, method, broken)


async def test_an_unexpected_error_ends_the_request_failed(
    rig: Callable[..., Awaitable[Rig]], monkeypatch: pytest.MonkeyPatch
) -> None:
    r = await rig()
    break_state(monkeypatch, r, "record_sent", KeyError("a bug"))
    body = request()
    await r.route([r.record(body)])
    statuses = [e.status for e in r.sink.of(body["id"])]
    assert statuses == [Status.ACCEPTED, Status.FAILED]
    assert r.sink.of(body["id"])[-1].error.code == "internal_error"  # type: ignore[union-attr]


async def test_a_zombie_attempt_records_nothing(redis: Redis) -> None:
    state = BatchState(redis, ttl_seconds=60, correlation_ttl_seconds=60)
    item = ClaimItem("acme", "n-1", "whatsapp-business", "whatsapp", {}, "t:0:1", bucket=())
    assert await state.claim([item]) == [BEGAN]
    # Another worker took the partition over and started attempt 2.
    await redis.hset(keys.notification("acme", "n-1"), mapping={"attempt": "2"})
    sent = SentItem("acme", "n-1", "whatsapp-business", 1, "wamid.late")
    assert await state.record_sent([sent]) == [(False, [])]
    current = SentItem("acme", "n-1", "whatsapp-business", 2, "wamid.ok")
    assert await state.record_sent([current]) == [(True, [])]
    assert await state.record_sent([current]) == [(True, [])]  # a retried wave: idempotent


async def test_reports_parked_before_the_send_are_handed_back(redis: Redis) -> None:
    plain = NotificationState(redis, ttl_seconds=60, correlation_ttl_seconds=60)
    parked = ParkedStatus(Status.DELIVERED, {})
    assert await plain.resolve_or_park("whatsapp-business", "wamid.early", parked) is None
    state = BatchState(redis, ttl_seconds=60, correlation_ttl_seconds=60)
    item = ClaimItem("acme", "n-2", "whatsapp-business", "whatsapp", {}, "t:0:2", bucket=())
    await state.claim([item])
    [(current, handed)] = await state.record_sent(
        [SentItem("acme", "n-2", "whatsapp-business", 1, "wamid.early")]
    )
    assert current
    assert [p.status for p in handed] == [Status.DELIVERED]
    found = await plain.resolve_or_park("whatsapp-business", "wamid.early", parked)
    assert found == ("acme", "n-2")


# -- limits: deep, wide and near-limit inputs end in one status or one dead letter ---------

MAX_REQUEST = 65_536
MAX_RECORD = MAX_REQUEST + 65_536


@pytest_asyncio.fixture
async def limited(rig: Callable[..., Awaitable[Rig]]) -> Rig:
    return await rig(
        max_record_bytes=MAX_RECORD,
        max_request_bytes=MAX_REQUEST,
        kafka_max_record_bytes=MAX_RECORD,
        max_metadata_bytes=4096,
    )


def _near_limit(body: dict[str, Any], delta: int) -> dict[str, Any]:
    """``body`` with its text padded so that its JSON is ``MAX_REQUEST + delta`` bytes."""
    size = len(orjson.dumps(body))
    body["content"] = {"body": "x" * max(0, MAX_REQUEST + delta - size)}
    return body


bodies = st.one_of(
    st.integers(1, 1100).map(lambda d: request(metadata={"deep": f"__deep__{d}"})),
    st.integers(1, 1100).map(lambda d: request(content={"body": "hi", "x": f"__deep__{d}"})),
    st.integers(0, 3000).map(lambda n: request(metadata={f"k{i}": i for i in range(n)})),
    st.integers(0, 20_000).map(lambda n: request(metadata={"text": "é" * n})),
    st.integers(-300, 300).map(lambda d: _near_limit(request(), d)),
    st.integers(-300, 300).map(lambda d: _near_limit(request(metadata={"a": "b" * 5000}), d)),
    st.integers(-300, 300).map(lambda d: _near_limit(request(channel="sms"), d)),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(bodies, min_size=1, max_size=6))
async def test_deep_wide_and_near_limit_requests_end_in_one_status_or_dead_letter(
    limited: Rig, batch: list[dict[str, Any]]
) -> None:
    r = limited
    records = [r.record(body) for body in batch]
    await r.route(records)
    dead = {letter.record.offset: letter.info.reason for letter in r.sink.dead_letters}
    for record, body in zip(records, batch, strict=True):
        terminal = {
            e.status
            for e in r.sink.of(body["id"])
            if e.status in (Status.SENT, Status.FAILED, Status.REJECTED)
        }
        assert (record.offset in dead) != bool(terminal), (record.offset, terminal)
        assert len(terminal) <= 1
        if record.offset in dead:  # too large, or nested beyond what a JSON parser reads
            reason = dead[record.offset]
            assert reason is DeadLetterReason.TOO_LARGE or reason is DeadLetterReason.NOT_JSON
            assert reason is DeadLetterReason.NOT_JSON or len(record.value or b"") > MAX_REQUEST
        elif Status.FAILED in terminal:
            raise AssertionError(f"failed: {r.sink.of(body['id'])[-1].error}")


async def test_a_dead_letter_too_large_to_produce_whole_is_truncated_with_its_headers(
    limited: Rig,
) -> None:
    r = limited
    value = b"x" * (MAX_RECORD + 10)
    record = RawRecord(
        key=b"acme",
        value=value,
        topic="notifications.requests",
        partition=0,
        offset=10_000,
        headers=[("trace", b"t-1")],
    )
    await r.route([record])
    [letter] = r.sink.dead_letters
    headers = dict(letter.record.headers)
    assert headers["trace"] == b"t-1"
    assert headers["herald-dlq-reason"] == b"too_large"
    assert headers["herald-dlq-truncated-from"] == str(len(value)).encode()
    assert value.startswith(letter.record.value or b"x")
    assert len(letter.record.value or b"") < MAX_RECORD


async def test_the_per_request_record_sent_is_a_compare_and_set(redis: Redis) -> None:
    state = NotificationState(redis, ttl_seconds=60, correlation_ttl_seconds=60)
    await state.claim("acme", "n-3")
    await state.set_phase("acme", "n-3", "accepted")
    assert await state.begin_attempt("acme", "n-3", 1, "p")
    await state.set_phase("acme", "n-3", "scheduled")  # the attempt timed out elsewhere...
    assert await state.begin_attempt("acme", "n-3", 2, "p")  # ...and attempt 2 started
    assert await state.record_sent("acme", "n-3", "p", "pm-late", 1) is None
    assert (await state.get("acme", "n-3")).provider_message_id is None  # type: ignore[union-attr]
    assert await state.record_sent("acme", "n-3", "p", "pm-ok", 2) == []
    assert await state.record_sent("acme", "n-3", "p", "pm-ok", 2) == []  # idempotent


async def test_a_retry_whose_record_vanished_ends_failed_with_a_code(
    rig: Callable[..., Awaitable[Rig]],
) -> None:
    r = await rig()
    body = request()
    envelope = RetryEnvelope(
        request=NotificationRequest.model_validate(body),
        attempt=2,
        provider="whatsapp-business",
        tried=[],
        due_at=utcnow(),
        reason=RetryReason.RETRY,
    )
    await r.runtime.processor.deliverer.resume(envelope)  # no Redis record at all
    [event] = r.sink.of(body["id"])
    assert event.status is Status.FAILED
    assert event.error is not None
    assert event.error.code == "state_expired"
    assert r.sandbox.messages == []


async def test_an_integration_change_reaches_the_cache_at_once(
    rig: Callable[..., Awaitable[Rig]], redis: Redis, test_secret_key: str
) -> None:
    r = await rig(integration_cache_seconds=600)  # only the change feed can explain a miss
    first = request("globex")
    await r.route([r.record(first)])
    assert r.sink.of(first["id"])[-1].status is Status.SENT
    cache = r.runtime.integrations
    assert cache.cached("globex")
    store = IntegrationStore(redis, Cipher.from_settings(make_settings(secret_key=test_secret_key)))
    await store.remove("globex", "whatsapp-business")
    async with asyncio.timeout(10):
        await cache.wait_forgotten("globex")
    second = request("globex")
    await r.route([r.record(second)])
    [event] = r.sink.of(second["id"])
    assert event.status is Status.REJECTED
    assert event.error is not None
    assert event.error.code == "no_integration"


async def test_a_failing_batch_claim_falls_back_to_the_per_request_way(
    rig: Callable[..., Awaitable[Rig]], monkeypatch: pytest.MonkeyPatch
) -> None:
    r = await rig()
    break_state(monkeypatch, r, "claim", RuntimeError("script refused"))
    bodies = [request() for _ in range(3)]
    await r.route([r.record(b) for b in bodies])
    for body in bodies:
        assert [e.status for e in r.sink.of(body["id"])] == [Status.ACCEPTED, Status.SENT]
