"""The client factory against real servers: one node and a Redis Cluster of three."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisClusterException, ResponseError

from streams.platform.redis import queue_script, redis_for, run_pipeline
from tests.helpers import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


async def test_a_pooled_client_waits_for_a_free_connection(redis_url: str, redis: Redis) -> None:
    client = redis_for(make_settings(redis_url=redis_url, redis_max_connections=2), pooled=True)
    try:
        # Far more commands and pipelines at once than connections: none fails, all land.
        async def pipelined(i: int) -> None:
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(f"herald:test:p{i}", i)
                pipe.set(f"herald:test:q{i}", i)
                await pipe.execute()

        await asyncio.gather(
            *(client.incr(f"herald:test:c{i % 40}") for i in range(400)),
            *(pipelined(i) for i in range(50)),
        )
        values = [int(await redis.get(f"herald:test:c{i}") or 0) for i in range(40)]
        assert values == [10] * 40
        assert await redis.get("herald:test:q49") == b"49"
    finally:
        await client.aclose()


async def test_a_script_over_two_slots_is_refused_on_a_cluster_only(
    redis_url: str, redis: Redis
) -> None:
    """What the cluster run guards against: keys of different slots in one script."""
    script = redis.register_script("return #KEYS")
    assert await script(keys=["herald:x:{acme}", "herald:y:{acme}"]) == 2  # one slot: fine
    if "," in redis_url:
        with pytest.raises((RedisClusterException, ResponseError)):
            await script(keys=["herald:x:{acme}", "herald:y:{globex}"])
    else:
        assert await script(keys=["herald:x:{acme}", "herald:y:{globex}"]) == 2


async def test_scripts_are_pipelined_on_either_kind(redis_url: str, redis: Redis) -> None:
    """A batch: one pipeline, one script call per tenant (each call within one slot)."""
    client = redis_for(make_settings(redis_url=redis_url), pooled=True)
    try:
        script = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        tenants = [f"t{i}" for i in range(12)]  # spread over every node of a cluster

        def build(pipe: Any) -> None:
            for i, tenant in enumerate(tenants):
                queue_script(pipe, script, [f"herald:test:{{{tenant}}}"], [i + 1])

        # The first round: refused and loaded (one node) or compiled (cluster); the second
        # runs what the server has.
        for _ in range(2):
            results = await run_pipeline(client, build, (script,))
        assert results == [2 * (i + 1) for i in range(len(tenants))]
        assert await redis.get("herald:test:{t11}") == b"24"
    finally:
        await client.aclose()
