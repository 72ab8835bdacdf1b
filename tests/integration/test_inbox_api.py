"""The inbox endpoints' logic (``InboxApi``) with a real Redis and a SQLite file, for the
cases a running worker cannot be steered into: a read racing the router's ``sent``, and
a status event that cannot be emitted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from providers.database import InboxStore
from schemas.notification import NotificationRequest
from schemas.status import Status, StatusEvent
from streams.inbox import InboxApi
from streams.platform.sink import MemorySink
from streams.tenancy.auth import TenantKeys
from tests.inbox import make_api, migrated_store

pytestmark = pytest.mark.integration


class BrokenSink(MemorySink):
    """Kafka is down: nothing can be emitted."""

    async def status(self, event: StatusEvent) -> None:
        raise ConnectionError("broker unreachable")


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[InboxStore]:
    async with migrated_store(f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}") as inbox:
        yield inbox


async def accepted_and_stored(api: InboxApi, nid: str) -> str:
    """The router's state after storing, before it recorded the send; returns the pmid."""
    request = NotificationRequest.model_validate(
        {
            "id": nid,
            "tenantId": "acme",
            "channel": "database",
            "recipient": {"userId": "u-1"},
            "content": {"body": "hello"},
        }
    )
    await api.state.claim("acme", nid)
    await api.state.mark_accepted(
        "acme", nid, channel="database", provider="database", metadata={"k": "v"}
    )
    row, _ = await api.store.store(request, provider="database")
    return str(row.id)


async def test_a_read_before_sent_is_held_for_the_router(store: InboxStore, redis: Redis) -> None:
    sink = MemorySink()
    api = make_api(store, redis, sink)
    key, _ = await api.keys.create("acme")
    pmid = await accepted_and_stored(api, "n-1")
    headers = {"Authorization": f"Bearer {key}"}

    answer = await api.read("acme", "u-1", "n-1", headers)
    assert answer.status == 200
    assert orjson.loads(answer.body)["readAt"] is not None
    assert sink.statuses == []  # not before `sent`
    # The router records the send and gets the held `read` back, to emit after `sent`.
    parked = await api.state.record_sent("acme", "n-1", "database", pmid)
    assert [p.status for p in parked] == [Status.READ]


async def test_an_event_that_cannot_be_emitted_undoes_the_read(
    store: InboxStore, redis: Redis
) -> None:
    api = make_api(store, redis, BrokenSink())
    key, _ = await api.keys.create("acme")
    pmid = await accepted_and_stored(api, "n-1")
    await api.state.record_sent("acme", "n-1", "database", pmid)
    headers = {"X-Api-Key": key}

    answer = await api.read("acme", "u-1", "n-1", headers)
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "1"
    row = await store.get("acme", "u-1", "n-1")
    assert row is not None
    assert row.read_at is None  # so the client's retry emits it

    sink = MemorySink()
    retried = await make_api(store, redis, sink).read("acme", "u-1", "n-1", headers)
    assert retried.status == 200
    assert [(e.status, e.provider_message_id) for e in sink.statuses] == [(Status.READ, pmid)]
    assert sink.statuses[0].metadata == {"k": "v"}


async def test_database_errors_become_503_or_500(tmp_path: Path, redis: Redis) -> None:
    sink = MemorySink()
    never_migrated = InboxStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    unreachable = InboxStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    try:
        key, _ = await TenantKeys(redis).create("acme")
        headers = {"Authorization": f"Bearer {key}"}
        missing = await make_api(never_migrated, redis, sink).list("acme", "u-1", headers, {})
        assert missing.status == 500
        assert orjson.loads(missing.body)["error"] == "database_error"
        down = await make_api(unreachable, redis, sink).list("acme", "u-1", headers, {})
        assert down.status == 503
        assert orjson.loads(down.body)["error"] == "unavailable"
    finally:
        await never_migrated.close()
        await unreachable.close()
