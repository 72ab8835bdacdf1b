"""The batch path's scripts go as EVALSHA alone (no SCRIPT EXISTS round trip per batch), and
a Redis that lost them (restart, SCRIPT FLUSH) gets them loaded again (real Redis)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from streams.pipeline.batchstate import BEGAN, BatchState, ClaimItem, SentItem
from streams.tenancy import keys

pytestmark = pytest.mark.integration


def claim(n: int) -> ClaimItem:
    return ClaimItem("acme", f"n-{n}", "twilio", "sms", {}, f"t:0:{n}", bucket=(100.0, 100))


async def test_a_batch_is_one_round_trip_per_step_even_after_a_script_flush(
    redis: Redis, redis_is_embedded: bool
) -> None:
    if not redis_is_embedded:
        pytest.skip("flushes scripts and resets statistics: only on the tests' own Redis")
    state = BatchState(redis, ttl_seconds=60, correlation_ttl_seconds=60)
    assert await state.claim([claim(1)]) == [BEGAN]  # loads the script (NOSCRIPT once)
    await state.record_sent([SentItem("acme", "n-1", "twilio", 1, "SM1")])  # and this one
    await redis.config_resetstat()  # type: ignore[no-untyped-call]
    assert await state.claim([claim(2), claim(3)]) == [BEGAN, BEGAN]
    sent = [SentItem("acme", f"n-{n}", "twilio", 1, f"SM{n}") for n in (2, 3)]
    assert [current for current, _ in await state.record_sent(sent)] == [True, True]
    stats = await redis.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 2
    assert not any(name.startswith("cmdstat_script") for name in stats)
    await redis.script_flush()
    assert await state.claim([claim(4)]) == [BEGAN]  # refused, loaded, run again
    again = [SentItem("acme", "n-4", "twilio", 1, "SM4")]
    assert [current for current, _ in await state.record_sent(again)] == [True]
    record = await redis.hgetall(keys.notification("acme", "n-4"))
    assert record[b"phase"] == b"sent"
