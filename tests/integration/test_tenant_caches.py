"""The workers' in-process caches of tenant configuration follow their change channels
(real Redis): a policy set by `herald policy` and a seed changed by `herald seed` reach a
running worker at once, and an unchanged policy is read from Redis only once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from seeds import load_seeds
from streams.tenancy import keys
from streams.tenancy.lookups import LookupsService
from streams.tenancy.policy import CachingPolicyStore, PolicyStore, TenantPolicy

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def following() -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """``await following(cache)``: runs ``cache.follow_changes()`` until the test ends."""
    feeds: list[asyncio.Task[None]] = []

    async def start(cache: CachingPolicyStore | LookupsService) -> None:
        feeds.append(asyncio.create_task(cache.follow_changes()))
        async with asyncio.timeout(10):
            await cache.following.wait()

    yield start
    for feed in feeds:
        feed.cancel()
    await asyncio.gather(*feeds, return_exceptions=True)


async def test_a_policy_change_reaches_the_worker_at_once(
    redis: Redis, following: Callable[..., Awaitable[None]], redis_is_embedded: bool
) -> None:
    worker = CachingPolicyStore(redis)
    await following(worker)
    if redis_is_embedded:
        await redis.config_resetstat()  # type: ignore[no-untyped-call]
    for _ in range(5):
        assert await worker.get("acme") == TenantPolicy(failover=False)
    if redis_is_embedded:  # the first call read Redis; the others did not
        assert (await redis.info("commandstats"))["cmdstat_hget"]["calls"] == 1
    await PolicyStore(redis).set("acme", TenantPolicy(failover=True))  # `herald policy set`
    async with asyncio.timeout(10):
        await worker.wait_forgotten("acme")
    assert await worker.get("acme") == TenantPolicy(failover=True)


async def test_a_seed_change_is_read_again_by_the_worker(
    redis: Redis, following: Callable[..., Awaitable[None]]
) -> None:
    await load_seeds(redis)
    # A row as an older seed wrote it, which the worker reads at its start...
    official = orjson.loads(await redis.hget(keys.provider_rows(), "twilio"))
    older = {**official, "displayName": "Twilio (old seed)"}
    await redis.hset(keys.provider_rows(), "twilio", orjson.dumps(older))
    worker = LookupsService(redis)
    await worker.load()
    await following(worker)  # (which reads the seed once more: changes may have been missed)
    read = worker.refreshes
    row = worker.provider_row("twilio")
    assert row is not None
    assert row.display_name == "Twilio (old seed)"
    # ...then `herald seed` writes today's row: the worker reads the seed again.
    report = await load_seeds(redis)
    assert report.updated == 1
    async with asyncio.timeout(10):
        await worker.wait_refreshes(read + 1)
    row = worker.provider_row("twilio")
    assert row is not None
    assert row.display_name == official["displayName"]
