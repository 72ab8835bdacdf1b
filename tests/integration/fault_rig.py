"""The fault tests' rig: a stack of embedded broker, Redis, the WhatsApp Business fake and
worker processes, and a follower of the status topic."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest_asyncio
from redis.asyncio import Redis

from sandbox import GRAPH_VERSION, WhatsAppBusinessSandbox, serve_app
from schemas import Settings
from streams.platform.admin import ensure_topics
from tests.helpers import WorkerProcess, earliest_consumer
from tests.integration.business_tenants import seed_business_tenants

TERMINAL = {"sent", "failed", "rejected"}
#: The Cloud API's documented 80 messages/s would make these runs minutes long.
UNLIMITED = {"whatsapp-business": {"perSecond": 1_000_000, "burst": 1_000_000}}


def request(i: int, tenant: str = "acme", run: str = "") -> dict[str, Any]:
    return {
        "id": f"{run}-{i}",
        "tenantId": tenant,
        "channel": "whatsapp",
        "recipient": {
            "phone": f"+1555{i:07d}"
        },  # one recipient per request: provider calls are countable
        "content": {"body": f"message {i}"},
    }


@dataclass
class Outcomes:
    """Status events by notification, read continuously from the status topic."""

    events: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def terminal(self, nid: str) -> set[str]:
        return {e["status"] for e in self.events.get(nid, []) if e["status"] in TERMINAL}

    def finished(self, ids: list[str]) -> bool:
        return all(self.terminal(i) for i in ids)


async def follow(settings: Settings, outcomes: Outcomes) -> None:
    consumer = earliest_consumer(settings, settings.topic_status, request_timeout_ms=120_000)
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for r in records:
                    e = orjson.loads(r.value)
                    outcomes.events[e["notificationId"]].append(e)
            if batches:
                outcomes.changed.set()
                outcomes.changed = asyncio.Event()
    finally:
        await consumer.stop()


async def wait_finished(outcomes: Outcomes, ids: list[str], timeout: float) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not outcomes.finished(ids):
            await outcomes.changed.wait()


@dataclass
class Rig:
    settings: Settings
    sandbox: WhatsAppBusinessSandbox
    workdir: Path
    outcomes: Outcomes
    workers: list[WorkerProcess] = field(default_factory=list)

    async def worker(self) -> WorkerProcess:
        n = len(self.workers)
        w = WorkerProcess(
            self.settings,
            workdir=self.workdir / f"w{n}",
            log_path=self.workdir / f"w{n}.log",
            ready_timeout=120,
        )
        self.workers.append(w)
        return await w.start()

    def provider_calls(self) -> Counter[str]:
        return Counter(m.to for m in self.sandbox.messages)


async def setup_rig(
    stack: AsyncExitStack, settings: Settings, workdir: Path, tenants: tuple[str, ...] = ("acme",)
) -> Rig:
    sandbox = WhatsAppBusinessSandbox()
    stack.push_async_callback(sandbox.close)
    base = await stack.enter_async_context(serve_app(sandbox.app, port=0))
    settings = settings.model_copy(update={"whatsapp_business_api_url": f"{base}/{GRAPH_VERSION}"})
    redis = Redis.from_url(settings.redis_url)
    stack.push_async_callback(redis.aclose)
    await seed_business_tenants(
        redis, settings, sandbox, tenants, "10654035224292", lambda tenant: f"ver-{tenant}"
    )
    await ensure_topics(settings)
    outcomes = Outcomes()
    follower = asyncio.create_task(follow(settings, outcomes))

    async def stop_follower() -> None:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)

    stack.push_async_callback(stop_follower)
    rig = Rig(settings=settings, sandbox=sandbox, workdir=workdir, outcomes=outcomes)

    async def stop_workers() -> None:
        for w in rig.workers:
            await w.stop()

    stack.push_async_callback(stop_workers)
    return rig


@pytest_asyncio.fixture
async def rig_factory(
    settings_factory: Callable[..., Settings], redis: Redis, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    del redis  # flushed after the test
    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> Rig:
            tenants = overrides.pop("tenants", ("acme",))
            overrides.setdefault("rate_limits", UNLIMITED)
            return await setup_rig(stack, settings_factory(**overrides), tmp_path, tenants)

        yield make
