"""Integration fixtures: topic creation and ``herald worker`` subprocesses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from schemas.settings import Settings
from streams.platform.admin import ensure_topics
from streams.platform.embedded import find_free_port
from tests.helpers import WorkerProcess
from tests.integration.batch_rig import rig  # noqa: F401 - the batch-path tests' fixture
from tests.integration.fault_rig import rig_factory  # noqa: F401 - the fault tests' fixture
from tests.postgres import inbox_database_url, postgres_server  # noqa: F401 - fixtures

KafkaTopics = Callable[..., Awaitable[Settings]]
WorkerFactory = Callable[..., Awaitable[WorkerProcess]]


@pytest.fixture
def kafka_topics() -> KafkaTopics:
    """``await kafka_topics(settings, topics=None) -> settings``: create the topics (idempotent).

    Creates ``settings.all_topics`` by default, with ``settings.topic_partitions``. Call
    it before producing or consuming: the embedded broker would otherwise auto-create a
    topic with 4 partitions on the first metadata request.
    """

    async def create(settings: Settings, topics: Sequence[str] | None = None) -> Settings:
        await ensure_topics(settings, topics)
        return settings

    return create


@pytest_asyncio.fixture
async def worker_factory(tmp_path: Path, redis: aioredis.Redis) -> AsyncIterator[WorkerFactory]:
    """``await worker_factory(settings, role="router", *, wait=True, extra_env=None)``.

    Creates the settings' topics, launches ``herald worker`` (``role="router"``) or
    ``herald worker <role>`` with the settings as environment variables, and waits for
    ``GET /health`` to answer 200. A second worker of the same settings gets its own web
    port. Every worker still running is stopped (SIGTERM, then SIGKILL) after the test,
    before the ``redis`` fixture flushes the embedded Redis.
    """
    del redis  # requested for teardown order only
    workers: list[WorkerProcess] = []

    async def start(
        settings: Settings,
        role: str = "router",
        *,
        wait: bool = True,
        extra_env: Mapping[str, str] | None = None,
    ) -> WorkerProcess:
        used = {w.settings.web_port for w in workers if w.running}
        if settings.web_port in used:
            settings = settings.model_copy(update={"web_port": find_free_port()})
        if settings.metrics_port in {w.settings.metrics_port for w in workers if w.running}:
            settings = settings.model_copy(update={"metrics_port": find_free_port()})
        await ensure_topics(settings)
        index = len(workers)
        worker = WorkerProcess(
            settings,
            role,
            workdir=tmp_path / f"worker-{index}-{role}",
            log_path=tmp_path / f"worker-{index}-{role}.log",
            extra_env=extra_env,
        )
        workers.append(worker)
        return await worker.start(wait=wait)

    try:
        yield start
    finally:
        for worker in reversed(workers):
            await worker.stop()
