"""The batch claim leases rate-limit tokens ahead (real Redis): later chunks of the same
tenant and provider begin without touching the bucket, and the limit still holds across
workers, because leased tokens are taken from the shared bucket."""

from __future__ import annotations

import itertools

import pytest
from redis.asyncio import Redis

from streams.pipeline.batchstate import BEGAN, CREATED, BatchState, ClaimItem, bucket_key
from streams.pipeline.ratelimit import TokenLeases

pytestmark = pytest.mark.integration

_ids = itertools.count()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def items(count: int, rate: float, burst: int, tenant: str = "acme") -> list[ClaimItem]:
    return [
        ClaimItem(tenant, f"n-{n}", "twilio", "sms", {}, f"t:0:{n}", bucket=(rate, burst))
        for n in (next(_ids) for _ in range(count))
    ]


def state(redis: Redis, leases: TokenLeases) -> BatchState:
    return BatchState(redis, ttl_seconds=60, correlation_ttl_seconds=60, leases=leases)


def tokens_left(raw: bytes | None) -> float:
    assert raw is not None
    return float(raw.split()[0])


async def test_later_chunks_spend_leased_tokens_without_reading_the_bucket(
    redis: Redis,
) -> None:
    clock = Clock()
    worker = state(redis, TokenLeases(0.1, clock=clock))
    bucket = bucket_key("acme", "twilio")
    assert await worker.claim(items(3, rate=100, burst=50)) == [BEGAN] * 3
    first = await redis.get(bucket)
    assert tokens_left(first) == pytest.approx(50 - 3 - 10, abs=0.1)  # 3 needed, 10 ahead
    await redis.config_resetstat()  # type: ignore[no-untyped-call]
    assert await worker.claim(items(10, rate=100, burst=50)) == [BEGAN] * 10
    assert await redis.get(bucket) == first  # neither read nor written by the script
    stats = await redis.info("commandstats")
    assert "cmdstat_set" not in stats
    assert stats["cmdstat_get"]["calls"] == 1  # the GET just above, not the script
    # The lease is spent: the next chunk reads the bucket again (and leases anew).
    assert await worker.claim(items(1, rate=100, burst=50)) == [BEGAN]
    assert await redis.get(bucket) != first


async def test_an_ended_lease_is_dropped_and_the_bucket_read_again(redis: Redis) -> None:
    clock = Clock()
    worker = state(redis, TokenLeases(0.1, clock=clock))
    bucket = bucket_key("acme", "twilio")
    await worker.claim(items(1, rate=100, burst=50))
    leased = await redis.get(bucket)
    clock.now += 0.2
    assert await worker.claim(items(1, rate=100, burst=50)) == [BEGAN]
    assert await redis.get(bucket) != leased


async def test_the_limit_holds_across_workers_that_lease(redis: Redis) -> None:
    """Worker A leases ahead; worker B finds those tokens gone from the shared bucket."""
    a = state(redis, TokenLeases(10))
    b = state(redis, TokenLeases(10))
    # 0.1/s (no refill within the test), burst 6: A needs 1 and leases 1 more; 4 are left.
    assert await a.claim(items(1, rate=0.1, burst=6)) == [BEGAN]
    started = await b.claim(items(6, rate=0.1, burst=6))
    assert started == [BEGAN] * 4 + [CREATED] * 2  # over the limit: they wait their turn
    assert await a.claim(items(1, rate=0.1, burst=6)) == [BEGAN]  # A's leased token
    assert await a.claim(items(1, rate=0.1, burst=6)) == [CREATED]  # 6 began, as the burst
    assert await b.claim(items(1, rate=0.1, burst=6)) == [CREATED]


async def test_a_need_larger_than_the_bucket_leases_nothing(redis: Redis) -> None:
    worker = state(redis, TokenLeases(0.1))
    started = await worker.claim(items(8, rate=1, burst=5))
    assert started == [BEGAN] * 5 + [CREATED] * 3
    assert tokens_left(await redis.get(bucket_key("acme", "twilio"))) < 1
    assert not worker.leases.spend(bucket_key("acme", "twilio"))
