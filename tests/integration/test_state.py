"""Idempotency, correlation and monotonic statuses against a real redis-server."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from schemas import Status
from streams.pipeline.state import NotificationState, ParkedStatus

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


def make(redis: Redis) -> NotificationState:
    return NotificationState(redis, ttl_seconds=600, correlation_ttl_seconds=600)


async def test_claim_is_exclusive_and_reports_the_existing_record(redis: Redis) -> None:
    state = make(redis)
    results = await asyncio.gather(*(state.claim("acme", "n1") for _ in range(20)))
    assert results.count(None) == 1  # exactly one claimer wins
    await state.mark_accepted("acme", "n1", channel="whatsapp", provider="p", metadata={"a": 1})
    again = await state.claim("acme", "n1")
    assert again is not None
    assert again.phase == "accepted"
    assert again.metadata == {"a": 1}
    assert not again.terminal
    await state.set_phase("acme", "n1", "sent")
    final = await state.claim("acme", "n1")
    assert final is not None
    assert final.terminal


async def test_tenants_do_not_share_records(redis: Redis) -> None:
    state = make(redis)
    assert await state.claim("acme", "same-id") is None
    assert await state.claim("globex", "same-id") is None


async def test_status_only_moves_forward_and_once(redis: Redis) -> None:
    state = make(redis)
    await state.claim("acme", "n2")
    await state.mark_accepted("acme", "n2", channel="whatsapp", provider="p", metadata={})
    assert await state.record_sent("acme", "n2", "p", "pm-2") == []
    assert await state.advance("acme", "n2", Status.SENT) is None  # already sent
    assert await state.advance("acme", "n2", Status.READ) is not None
    assert await state.advance("acme", "n2", Status.DELIVERED) is None  # late, dropped
    assert await state.advance("acme", "n2", Status.READ) is None  # once
    assert await state.advance("acme", "n2", Status.FAILED) is None  # not after read


async def test_failed_is_terminal(redis: Redis) -> None:
    state = make(redis)
    await state.claim("acme", "n3")
    await state.record_sent("acme", "n3", "p", "pm-3")
    assert await state.advance("acme", "n3", Status.FAILED) is not None
    assert await state.advance("acme", "n3", Status.DELIVERED) is None
    assert await state.advance("acme", "n3", Status.READ) is None


async def test_early_report_is_parked_and_handed_back_on_record(redis: Redis) -> None:
    state = make(redis)
    await state.claim("acme", "n4")
    early = ParkedStatus(Status.DELIVERED, {})
    assert await state.resolve_or_park("p", "pm-4", early) is None
    parked = await state.record_sent("acme", "n4", "p", "pm-4")
    assert [p.status for p in parked] == [Status.DELIVERED]
    # After correlation, reports resolve to the notification and nothing is parked twice.
    assert await state.resolve_or_park("p", "pm-4", early) == ("acme", "n4")
    assert await state.record_sent("acme", "n4", "p", "pm-4") == []


async def test_unknown_reports_are_bounded(redis: Redis) -> None:
    state = NotificationState(redis, ttl_seconds=600, correlation_ttl_seconds=600, max_parked=3)
    for _ in range(10):
        await state.resolve_or_park("p", "pm-x", ParkedStatus(Status.READ, {}))
    await state.claim("acme", "n5")
    assert len(await state.record_sent("acme", "n5", "p", "pm-x")) == 3
