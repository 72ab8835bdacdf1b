"""``Deliverer.resume()`` and ``reproduce()`` on stale and duplicate retry envelopes.

A retry envelope can come due more than once (produced again after a crash by
``reproduce``, or redelivered by the broker) and can come due after a newer envelope
replaced it. Only the envelope the record names (phase ``scheduled``, ``retry.attempt``
equal to the envelope's) may make an attempt; every other one must do nothing: no provider
call, no status event, no change to the record. Against a real redis-server (the
``redis`` fixture) and a :class:`MemorySink`; the provider is ``Scripted`` from
``tests/integration/test_delivery.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from providers.base import RateLimit
from schemas import NotificationRequest, Status
from schemas.retry import RetryEnvelope
from schemas.status import utcnow
from streams.pipeline import delivery
from tests.helpers import make_settings
from tests.integration.test_delivery import RESOLVED, Rig, Scripted, request, retryable

pytestmark = pytest.mark.integration


@pytest.fixture
def rig(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Rig]:
    Scripted.script = []
    Scripted.calls = 0
    Scripted.rate_limit = None

    async def resolve_named(req: NotificationRequest, name: str, *_: Any) -> Any:
        assert name == "scripted"
        return RESOLVED

    # The envelope names provider "scripted", which no tenant integration resolves to.
    monkeypatch.setattr(delivery, "resolve_named", resolve_named)

    def make(**overrides: Any) -> Rig:
        return Rig(redis, make_settings(**{"provider_timeout_seconds": 0.2, **overrides}))

    return make


async def scheduled(r: Rig, req: NotificationRequest, attempt: int = 1) -> RetryEnvelope:
    """Attempt ``attempt`` fails retryably: the envelope of attempt ``attempt + 1``."""
    before = len(r.sink.retries)
    Scripted.script = [retryable()]
    await r.deliverer.deliver(req, RESOLVED, attempt)
    [(_, envelope)] = r.sink.retries[before:]
    assert envelope.attempt == attempt + 1
    return envelope


async def retry_scheduled(r: Rig) -> tuple[Rig, NotificationRequest, RetryEnvelope]:
    """A new request accepted on ``r`` whose attempt 1 failed retryably: ``r``, the
    request and the envelope of attempt 2."""
    req = request()
    await r.accept(req)
    return r, req, await scheduled(r, req)


async def snapshot(r: Rig, req: NotificationRequest) -> dict[bytes, bytes]:
    from streams.tenancy import keys

    return dict(await r.state._redis.hgetall(keys.notification(req.tenant_id, req.id)))


async def test_a_stale_envelope_does_nothing_and_the_current_one_sends(
    rig: Callable[..., Rig],
) -> None:
    r, req, first = await retry_scheduled(rig())  # attempt 2 scheduled
    Scripted.script = [retryable()]
    await r.deliverer.resume(first)  # attempt 2 fails too: attempt 3 scheduled
    [(_, second)] = r.sink.retries[1:]
    assert second.attempt == 3
    calls, events, record = Scripted.calls, len(r.sink.statuses), await snapshot(r, req)

    await r.deliverer.resume(first)  # stale: the record names attempt 3
    # Also while the provider's rate limit would defer an attempt: a stale envelope that
    # got that far would schedule itself again and make the current one stale in turn.
    Scripted.rate_limit = RateLimit(per_second=0.01, burst=1)
    assert await r.deliverer.buckets.take("acme:scripted", rate=0.01, burst=1) == 0  # empty
    await r.deliverer.resume(first)
    assert Scripted.calls == calls
    assert len(r.sink.statuses) == events
    assert await snapshot(r, req) == record
    assert len(r.sink.retries) == 2  # nothing scheduled again

    Scripted.rate_limit = None
    await r.deliverer.resume(second)
    assert Scripted.calls == calls + 1
    assert r.statuses(req)[-1] is Status.SENT


async def test_a_duplicate_envelope_after_the_send_does_nothing(rig: Callable[..., Rig]) -> None:
    r, req, envelope = await retry_scheduled(rig())
    await r.deliverer.resume(envelope)
    assert r.statuses(req) == [Status.RETRYING, Status.SENT]
    calls, record = Scripted.calls, await snapshot(r, req)

    await r.deliverer.resume(envelope)  # the same envelope, due again
    await r.deliverer.resume(envelope.model_copy())  # or produced again by reproduce()
    assert Scripted.calls == calls
    assert r.statuses(req) == [Status.RETRYING, Status.SENT]
    assert await snapshot(r, req) == record


async def test_an_envelope_whose_attempt_is_not_the_one_in_flight_does_nothing(
    rig: Callable[..., Rig],
) -> None:
    """``sending`` with another attempt number: that attempt's own envelope, not this one,
    may declare its outcome unknown."""
    r = rig(unknown_outcome="fail")
    req = request()
    await r.accept(req)
    envelope = await scheduled(r, req)  # attempt 2
    later = envelope.model_copy(update={"attempt": 3})
    assert await r.state.begin_attempt(req.tenant_id, req.id, 3, "scripted")  # in flight
    record = await snapshot(r, req)

    await r.deliverer.resume(envelope)  # attempt 2's envelope, while attempt 3 runs
    assert r.statuses(req) == [Status.RETRYING]
    assert await snapshot(r, req) == record

    await r.deliverer.resume(later)  # attempt 3's own envelope after a crash: unknown
    assert r.statuses(req) == [Status.RETRYING, Status.FAILED]
    assert r.sink.of(req.id)[-1].error.code == "outcome_unknown"  # type: ignore[union-attr]
    assert Scripted.calls == 1  # only attempt 1 ever called the provider


async def test_an_envelope_after_a_send_recorded_but_not_emitted_completes_it_once(
    rig: Callable[..., Rig],
) -> None:
    r, req, envelope = await retry_scheduled(rig())
    assert await r.state.begin_attempt(req.tenant_id, req.id, envelope.attempt, "scripted")
    await r.state.record_sent(req.tenant_id, req.id, "scripted", "pm-crashed")  # then: crash
    calls = Scripted.calls

    await r.deliverer.resume(envelope)
    await r.deliverer.resume(envelope)  # a duplicate finds the record terminal
    assert Scripted.calls == calls  # never sent again
    assert r.statuses(req) == [Status.RETRYING, Status.SENT]
    sent = r.sink.of(req.id)[-1]
    assert (sent.provider_message_id, sent.attempt) == ("pm-crashed", envelope.attempt)
    record = await r.state.get(req.tenant_id, req.id)
    assert record is not None
    assert record.phase == "sent"


async def test_reproduce_produces_the_recorded_envelope_again(rig: Callable[..., Rig]) -> None:
    r = rig(retry_tiers="5,30,300")
    req = request()
    await r.accept(req)
    envelope = await scheduled(r, req)
    record = await r.state.get(req.tenant_id, req.id)
    assert record is not None
    assert record.phase == "scheduled"

    await r.deliverer.reproduce(record)
    [(_, original), (topic, again)] = r.sink.retries
    assert again == original == envelope
    assert topic.endswith(".5s")  # due within seconds: the smallest tier

    # Due long from now: the tier that fits what is left of the wait.
    later = envelope.model_copy(update={"due_at": utcnow() + timedelta(seconds=100)})
    await r.state.schedule(
        req.tenant_id, req.id, {"attempt": later.attempt, "envelope": later.to_json().decode()}
    )
    record = await r.state.get(req.tenant_id, req.id)
    assert record is not None
    await r.deliverer.reproduce(record)
    topic, produced = r.sink.retries[-1]
    assert topic.endswith(".300s")
    assert produced == later

    # Both copies come due: one provider call, one sent.
    await r.deliverer.resume(produced)
    await r.deliverer.resume(again)
    assert Scripted.calls == 2  # attempt 1, then attempt 2 once
    assert r.statuses(req) == [Status.RETRYING, Status.SENT]


async def test_reproduce_without_a_recorded_envelope_produces_nothing(
    rig: Callable[..., Rig],
) -> None:
    r = rig()
    req = request()
    await r.accept(req)
    record = await r.state.get(req.tenant_id, req.id)
    assert record is not None
    assert record.retry is None
    await r.deliverer.reproduce(record)
    assert r.sink.retries == []
