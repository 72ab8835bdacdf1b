"""The inbox store and its migrations against real databases: a SQLite file and PostgreSQL.

Every test taking ``inbox_database_url`` runs twice, once per backend (the PostgreSQL
variant skips, saying why, only where no server can be had: see ``tests/postgres.py``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from providers import PermanentError, RetryableError
from providers.base import Resources
from providers.database import (
    SCHEMA_MISSING,
    TABLE_NAME,
    DatabaseProvider,
    InboxStore,
    create_inbox_engine,
    metadata,
)
from providers.database._credentials import DatabaseCredentials
from schemas.notification import NotificationRequest
from streams.cli.main import main
from streams.inbox import (
    VERSION_TABLE,
    auto_migrate_enabled,
    current_revision,
    downgrade,
    head_revision,
    migrate_on_start,
    upgrade,
)
from streams.platform.embedded import find_free_port
from tests.helpers import kept_root_logging, make_settings
from tests.inbox import migrated_store
from tests.postgres import PostgresServer, require_postgres, throwaway_postgres

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def request(
    nid: str, user: str = "u-1", tenant: str = "acme", **content: Any
) -> NotificationRequest:
    return NotificationRequest.model_validate(
        {
            "id": nid,
            "tenantId": tenant,
            "channel": "database",
            "recipient": {"userId": user},
            "content": content or {"subject": "Order shipped", "body": f"body of {nid}"},
            "metadata": {"orderId": nid},
        }
    )


@pytest_asyncio.fixture
async def store(inbox_database_url: str) -> AsyncIterator[InboxStore]:
    """A migrated, empty inbox."""
    async with migrated_store(inbox_database_url) as inbox:
        yield inbox


async def _tables(store: InboxStore) -> set[str]:
    async with store.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


# -- migrations ----------------------------------------------------------------------------


async def test_migrations_create_the_schema_once_and_match_the_model(
    inbox_database_url: str,
) -> None:
    inbox = InboxStore.from_url(inbox_database_url)
    try:
        assert await current_revision(inbox.engine) is None
        await upgrade(inbox.engine)
        await upgrade(inbox.engine)  # idempotent: already at head
        assert await current_revision(inbox.engine) == head_revision()
        assert {TABLE_NAME, VERSION_TABLE} <= await _tables(inbox)

        def diff(conn: sa.Connection) -> list[Any]:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            return list(compare_metadata(context, metadata))

        async with inbox.engine.connect() as conn:
            assert await conn.run_sync(diff) == []

        await downgrade(inbox.engine, "base")
        assert TABLE_NAME not in await _tables(inbox)
        assert await current_revision(inbox.engine) is None
        await upgrade(inbox.engine)
        assert await current_revision(inbox.engine) == head_revision()
    finally:
        await inbox.close()


async def test_migrating_concurrently_is_safe(inbox_database_url: str) -> None:
    engines = [create_inbox_engine(inbox_database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(e) for e in engines))
        assert await current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()


async def test_auto_migrate_is_on_for_sqlite_only_unless_set(tmp_path: Path) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'auto.db'}"
    pg_url = f"postgresql+asyncpg://postgres@127.0.0.1:{find_free_port()}/nothing"
    assert auto_migrate_enabled(make_settings(database_url=sqlite_url))
    assert not auto_migrate_enabled(make_settings(database_url=pg_url))
    assert auto_migrate_enabled(make_settings(database_url=pg_url, db_auto_migrate=True))
    assert not auto_migrate_enabled(make_settings(database_url=sqlite_url, db_auto_migrate=False))

    assert await migrate_on_start(make_settings(database_url=sqlite_url)) is True
    inbox = InboxStore.from_url(sqlite_url)
    try:
        assert await current_revision(inbox.engine) == head_revision()
    finally:
        await inbox.close()
    # Nothing listens there: logged, not raised (the worker keeps serving other channels).
    assert await migrate_on_start(make_settings(database_url=pg_url, db_auto_migrate=True)) is False
    assert await migrate_on_start(make_settings(database_url=pg_url)) is False  # off: not tried


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """``main()`` installs a log handler on the captured stderr: take it away afterwards."""
    with kept_root_logging():
        yield


@pytest.mark.usefixtures("cli_logging")
def test_herald_db_commands(
    inbox_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", inbox_database_url)
    assert main(["db", "current"]) == 1
    assert "none (run `herald db upgrade`)" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out
    assert main(["db", "current"]) == 0

    async def old_and_new() -> None:
        inbox = InboxStore.from_url(inbox_database_url)
        try:
            await inbox.store(request("old"), provider="database", now=T0 - timedelta(days=91))
            await inbox.store(request("new"), provider="database")
        finally:
            await inbox.close()

    asyncio.run(old_and_new())
    capsys.readouterr()
    assert main(["db", "purge"]) == 0  # the seed's retentionDays: 90
    assert "deleted 1 notification(s) older than 90 days" in capsys.readouterr().out
    assert main(["db", "downgrade", "base"]) == 0
    assert "revision base" in capsys.readouterr().out


@pytest.mark.usefixtures("cli_logging")
def test_herald_db_reports_an_unreachable_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = find_free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://herald:s3cret@127.0.0.1:{port}/x")
    assert main(["db", "upgrade"]) == 3  # the database did not answer (docs/cli.md)
    err = capsys.readouterr().err
    assert (
        f"herald: error: inbox database postgresql+asyncpg://herald:***@127.0.0.1:{port}/x" in err
    )
    assert "s3cret" not in err


# -- storing and reading -------------------------------------------------------------------


async def test_storing_is_idempotent_even_when_racing(store: InboxStore) -> None:
    results = await asyncio.gather(
        *(store.store(request("n-1"), provider="database") for _ in range(8))
    )
    assert sum(created for _, created in results) == 1
    assert len({row.id for row, _ in results}) == 1
    row = results[0][0]
    assert (row.tenant_id, row.user_id, row.notification_id) == ("acme", "u-1", "n-1")
    assert (row.subject, row.body, row.html) == ("Order shipped", "body of n-1", None)
    assert row.metadata == {"orderId": "n-1"}
    assert row.created_at.tzinfo is not None
    assert row.read_at is None
    assert row.archived_at is None
    page = await store.page("acme", "u-1")
    assert [i.notification_id for i in page.items] == ["n-1"]


async def test_feed_is_newest_first_and_cursors_walk_it_without_gaps(store: InboxStore) -> None:
    # Three share one timestamp: the row id breaks the tie, so the order is total.
    stamps = [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=1), T0 + timedelta(seconds=1)]
    stamps += [T0 + timedelta(seconds=2), T0 + timedelta(microseconds=1), T0 + timedelta(hours=1)]
    rows = [
        (await store.store(request(f"n-{i}"), provider="database", now=at))[0]
        for i, at in enumerate(stamps)
    ]
    await store.store(request("other-user", user="u-2"), provider="database")
    await store.store(request("other-tenant", tenant="globex"), provider="database")
    expected = [
        r.notification_id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)
    ]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await store.page("acme", "u-1", limit=3, cursor=cursor)
        pages += 1
        assert page.unread_count == (7 if pages == 1 else 8)
        seen += [item.notification_id for item in page.items]
        if pages == 1:
            # A notification arriving meanwhile goes on top, not into the next pages.
            await store.store(request("late"), provider="database", now=T0 + timedelta(days=1))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected
    assert pages == 3
    first = await store.page("acme", "u-1", limit=1)
    assert [i.notification_id for i in first.items] == ["late"]
    exact = await store.page("acme", "u-1", limit=8)
    assert len(exact.items) == 8
    assert exact.next_cursor is None


async def test_read_archive_and_delete(store: InboxStore) -> None:
    for nid in ("a", "b", "c"):
        await store.store(request(nid), provider="database")

    found = await store.mark_read("acme", "u-1", "a")
    assert found is not None
    row, first = found
    assert first
    assert row.read_at is not None
    again = await store.mark_read("acme", "u-1", "a")
    assert again is not None
    assert again[1] is False
    assert again[0].read_at == row.read_at
    assert await store.mark_read("acme", "u-2", "a") is None  # another user's inbox
    assert await store.mark_read("globex", "u-1", "a") is None  # another tenant
    assert await store.mark_read("acme", "u-1", "missing") is None
    assert (await store.page("acme", "u-1")).unread_count == 2

    archived = await store.archive("acme", "u-1", "b")
    assert archived is not None
    assert archived[1]
    assert archived[0].archived_at is not None
    page = await store.page("acme", "u-1")
    assert {i.notification_id for i in page.items} == {"a", "c"}
    assert page.unread_count == 1  # archived notifications are not counted as unread
    everything = await store.page("acme", "u-1", include_archived=True)
    assert {i.notification_id for i in everything.items} == {"a", "b", "c"}

    await store.mark_unread("acme", "u-1", "a")
    assert (await store.page("acme", "u-1")).unread_count == 2

    assert await store.delete("acme", "u-1", "c") is True
    assert await store.delete("acme", "u-1", "c") is False
    assert await store.get("acme", "u-1", "c") is None
    assert await store.delete("acme", "u-2", "a") is False


# -- the provider --------------------------------------------------------------------------


async def test_provider_stores_through_the_injected_store(store: InboxStore) -> None:
    async with httpx.AsyncClient() as http:
        provider = DatabaseProvider(
            DatabaseCredentials(), http=http, settings=make_settings(), resources=Resources(store)
        )
        req = request("n-send", html="<p>Hi</p>", body="Hi")
        provider.validate(req)
        first = await provider.send(req)
        second = await provider.send(req)
    row = await store.get("acme", "u-1", "n-send")
    assert row is not None
    assert first.provider_message_id == second.provider_message_id == str(row.id)
    assert first.metadata["stored"] is True
    assert second.metadata["stored"] is False
    assert (row.html, row.body, row.subject) == ("<p>Hi</p>", "Hi", None)


async def test_provider_without_a_store_fails_permanently() -> None:
    async with httpx.AsyncClient() as http:
        provider = DatabaseProvider(DatabaseCredentials(), http=http, settings=make_settings())
        with pytest.raises(PermanentError) as caught:
            await provider.send(request("n-1"))
    assert caught.value.code == "provider_error"


# -- database errors -> Herald's error classes ---------------------------------------------


E = TypeVar("E", bound=Exception)


async def refusal_of(url: str, expected: type[E]) -> E:
    """The ``expected`` error a store into the inbox at ``url`` (not migrated) raises."""
    inbox = InboxStore.from_url(url)
    try:
        with pytest.raises(expected) as caught:
            await inbox.store(request("n-1"), provider="database")
    finally:
        await inbox.close()
    return caught.value


async def test_missing_schema_is_a_permanent_error(inbox_database_url: str) -> None:
    error = await refusal_of(inbox_database_url, PermanentError)  # never migrated
    assert error.code == "provider_error"
    assert error.message == SCHEMA_MISSING
    assert not error.retryable


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_unreachable_database_is_retryable(backend: str, tmp_path: Path) -> None:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'no-such-dir' / 'inbox.db'}"
        if backend == "sqlite"
        else f"postgresql+asyncpg://postgres@127.0.0.1:{find_free_port()}/herald"
    )
    error = await refusal_of(url, RetryableError)
    assert error.code == "provider_unavailable"


async def test_locked_sqlite_file_is_retryable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite+aiosqlite:///{path}"
    inbox = InboxStore(create_inbox_engine(url, sqlite_busy_timeout=0.2))
    await upgrade(inbox.engine)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(RetryableError) as caught:
            await inbox.store(request("n-1"), provider="database")
        assert caught.value.code == "provider_unavailable"
        assert caught.value.provider_code == "SQLITE_BUSY"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await inbox.close()


async def test_a_value_postgresql_cannot_hold_is_permanent(
    postgres_server: PostgresServer | str,
) -> None:
    async with require_postgres(postgres_server).fresh_database() as url:
        inbox = InboxStore.from_url(url)
        try:
            await upgrade(inbox.engine)
            with pytest.raises(PermanentError) as caught:  # SQLite would store it
                await inbox.store(request("n-nul", body="nul \x00 byte"), provider="database")
        finally:
            await inbox.close()
    assert caught.value.code == "provider_error"
    assert caught.value.provider_code is not None
    assert caught.value.provider_code.startswith("22")


async def test_the_throwaway_postgres_fallback_starts_and_migrates() -> None:
    """The fixtures' last resort (no HERALD_TEST_DATABASE_URL, no local server) works here."""
    async with throwaway_postgres() as server, require_postgres(server).fresh_database() as url:
        inbox = InboxStore.from_url(url)
        try:
            await upgrade(inbox.engine)
            row, created = await inbox.store(request("n-1"), provider="database")
            assert created
            assert row.id == 1
        finally:
            await inbox.close()
