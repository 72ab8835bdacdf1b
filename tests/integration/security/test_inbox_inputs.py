"""Forged inbox inputs answer 400, never 500, on both backends (issue #18, section 4)."""

from __future__ import annotations

import base64

import orjson
import pytest
from redis.asyncio import Redis

from providers.database import InboxStore
from streams.inbox import InboxApi, upgrade
from streams.pipeline.state import NotificationState
from streams.pipeline.updates import StatusUpdater
from streams.platform.sink import MemorySink
from streams.tenancy.auth import Scope, TenantKeys

pytestmark = pytest.mark.integration


def _cursor(row_id: int) -> str:
    raw = orjson.dumps(["v1", "2026-01-01T00:00:00+00:00"]).rstrip(b"]") + b", %d]" % row_id
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_forged_cursor_and_limit_are_refused(redis: Redis, inbox_database_url: str) -> None:
    store = InboxStore.from_url(inbox_database_url)
    await upgrade(store.engine)
    try:
        sink = MemorySink()
        state = NotificationState(redis, ttl_seconds=3600, correlation_ttl_seconds=3600)
        api = InboxApi(
            store=store,
            keys=TenantKeys(redis),
            state=state,
            updater=StatusUpdater(state, sink),
            sink=sink,
        )
        key, _ = await api.keys.create("acme", scopes=[Scope.INBOX])
        auth = {"Authorization": f"Bearer {key}"}
        largest = await api.list("acme", "u-1", auth, {"cursor": _cursor(2**63 - 1)})
        assert largest.status == 200  # the largest BIGINT is a fine cursor
        for query in (
            {"cursor": _cursor(2**64 - 1)},
            {"cursor": _cursor(2**63)},
            {"limit": "\u00b2"},  # superscript two: str.isdigit() but not int()
            {"limit": "\u0665"},  # Arabic-Indic five
        ):
            answer = await api.list("acme", "u-1", auth, query)
            assert answer.status == 400, (query, answer.body)
    finally:
        await store.close()
