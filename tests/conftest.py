"""Session-wide fixtures: Kafka and Redis (external if configured, else embedded), settings.

* ``KAFKA_BOOTSTRAP_SERVERS`` set: tests use that broker; else an in-memory tansu broker.
* ``REDIS_URL`` set: tests use that Redis (never flushed); else a diskless redis-server.
* Tests marked ``redis_cluster`` run twice: ``[single]`` as above and ``[cluster]`` against
  a Redis Cluster -- ``REDIS_CLUSTER_URLS`` if set (never flushed; the multi-node form of
  ``REDIS_URL``), else three primaries started here (``tests/cluster.py``).

The embedded services start lazily, once per session, on free loopback ports.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from schemas.settings import Settings
from streams.platform.admin import wait_for_broker
from streams.platform.embedded import embedded_kafka, embedded_redis, wait_for_redis
from streams.platform.redis import redis_client
from tests.cluster import redis_cluster
from tests.helpers import make_settings, new_secret_key
from tests.spans import memory_exporter


@pytest.fixture(scope="session")
def test_secret_key() -> str:
    """HERALD_SECRET_KEY used by every test of the session (32 random bytes, urlsafe b64)."""
    return new_secret_key()


@pytest_asyncio.fixture(scope="session")
async def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """Bootstrap address of the session's Kafka broker."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        await wait_for_broker(external, 60.0)
        yield external
        return
    log_path = tmp_path_factory.mktemp("kafka") / "tansu.log"
    async with embedded_kafka(log_path=log_path) as bootstrap:
        yield bootstrap


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``redis_cluster`` tests run on one node and on a Redis Cluster (docs/redis.md)."""
    if (
        metafunc.definition.get_closest_marker("redis_cluster") is not None
        and "redis_url" in metafunc.fixturenames
    ):
        metafunc.parametrize("redis_url", ["single", "cluster"], indirect=True, scope="session")


@pytest_asyncio.fixture(scope="session")
async def single_redis_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """``REDIS_URL``, else a diskless redis-server started for the session."""
    external = os.environ.get("REDIS_URL")
    if external:
        await wait_for_redis(external, 30.0)
        yield external
        return
    log_path = tmp_path_factory.mktemp("redis") / "redis.log"
    async with embedded_redis(log_path=log_path) as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """``REDIS_CLUSTER_URLS``, else a Redis Cluster of three primaries started here."""
    external = os.environ.get("REDIS_CLUSTER_URLS")
    if external:
        await wait_for_redis(external, 30.0)
        yield external
        return
    async with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """URL of the Redis the test uses: one node, or the cluster for ``[cluster]`` runs.

    Requested lazily, so the cluster starts only when a ``[cluster]`` test runs.
    """
    mode = getattr(request, "param", "single")
    name = "redis_cluster_url" if mode == "cluster" else "single_redis_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(scope="session")
def redis_is_embedded(redis_url: str) -> bool:
    """True when the tests own the Redis server(s) at ``redis_url`` (and may flush them)."""
    external = os.environ.get("REDIS_CLUSTER_URLS") if "," in redis_url else None
    return redis_url not in {os.environ.get("REDIS_URL"), external}


@pytest_asyncio.fixture
async def redis(redis_url: str, redis_is_embedded: bool) -> AsyncIterator[aioredis.Redis]:
    """A client of ``redis_url`` (bytes replies; the cluster client for a cluster, via
    ``streams.platform.redis``); embedded Redis is flushed around each test."""
    client = redis_client(redis_url, decode_responses=False)
    if redis_is_embedded:
        await client.flushdb()
    try:
        yield client
    finally:
        if redis_is_embedded:
            await client.flushdb()
        await client.aclose()


@pytest.fixture
def settings_factory(
    kafka_bootstrap: str, redis_url: str, test_secret_key: str
) -> Callable[..., Settings]:
    """``settings_factory(**overrides) -> Settings`` pointing at the session's Kafka and Redis.

    Each call gives a unique app id, unique topic names, a free web port on 127.0.0.1,
    fast consumer-group timings and the session's secret key; overrides use field names.
    """

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "redis_url": redis_url,
            "secret_key": test_secret_key,
        }
        values.update(overrides)
        return make_settings(**values)

    return factory


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, spans kept in memory (tests/spans.py); cleared around each test."""
    exporter = memory_exporter()
    exporter.clear()
    yield exporter
    exporter.clear()
