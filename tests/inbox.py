"""The inbox endpoints' logic (``InboxApi``) wired as the worker wires it, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from providers.database import InboxStore
from streams.inbox import InboxApi, upgrade
from streams.pipeline.state import NotificationState
from streams.pipeline.updates import StatusUpdater
from streams.platform.sink import MemorySink
from streams.tenancy.auth import TenantKeys

__all__ = ["make_api", "migrated_store"]


@asynccontextmanager
async def migrated_store(url: str) -> AsyncIterator[InboxStore]:
    """The inbox store at ``url`` with every migration applied; closed on the way out."""
    store = InboxStore.from_url(url)
    await upgrade(store.engine)
    try:
        yield store
    finally:
        await store.close()


def make_api(store: InboxStore, redis: Redis, sink: MemorySink | None = None) -> InboxApi:
    """An :class:`InboxApi` over ``store`` and ``redis``; statuses go to ``sink``."""
    sink = sink if sink is not None else MemorySink()
    state = NotificationState(redis, ttl_seconds=3600, correlation_ttl_seconds=3600)
    return InboxApi(
        store=store,
        keys=TenantKeys(redis),
        state=state,
        updater=StatusUpdater(state, sink),
        sink=sink,
    )
