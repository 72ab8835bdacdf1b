"""Applying the inbox migrations from Herald itself (``herald db``, worker start).

Each function takes an :class:`AsyncEngine`, opens one transaction and runs Alembic
inside it on the same connection (Alembic is synchronous: ``run_sync`` bridges), so a
failed migration leaves nothing half-done on PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from providers.database import create_inbox_engine
from schemas.settings import Settings
from streams.inbox._config import VERSION_TABLE, alembic_config, lock_migrations

__all__ = [
    "auto_migrate_enabled",
    "current_revision",
    "downgrade",
    "head_revision",
    "migrate_on_start",
    "upgrade",
]

log = logging.getLogger(__name__)


async def _in_transaction(engine: AsyncEngine, run: Callable[[Connection], None]) -> None:
    """``run`` in one transaction that holds the migration lock from its start (SQLite:
    ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock), so concurrent
    migrators take turns, and each finds the work done by the one before."""
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            await conn.run_sync(lock_migrations)
            await conn.run_sync(run)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    await _in_transaction(engine, run)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    await _in_transaction(engine, run)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (``None``: never migrated)."""

    def read(connection: Connection) -> str | None:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships revisions
        raise RuntimeError("no inbox migrations found")
    return head


def auto_migrate_enabled(settings: Settings) -> bool:
    """HERALD_DB_AUTO_MIGRATE, or when unset: on for SQLite, off for other databases."""
    if settings.db_auto_migrate is not None:
        return settings.db_auto_migrate
    return make_url(settings.database_url).get_backend_name() == "sqlite"


async def migrate_on_start(settings: Settings) -> bool:
    """Upgrade to head if auto-migration is on; ``True`` if it ran and succeeded.

    A failure is logged, not raised: the worker serves every other channel, and inbox
    sends fail with ``provider_error`` until ``herald db upgrade`` has run.
    """
    if not auto_migrate_enabled(settings):
        return False
    engine = create_inbox_engine(settings.database_url)
    try:
        await upgrade(engine)
        log.info("inbox database migrated", extra={"revision": head_revision()})
        return True
    except Exception as exc:
        log.error(
            "inbox migrations failed; run `herald db upgrade`",
            extra={"error": f"{type(exc).__name__}: {exc}"[:500]},
        )
        return False
    finally:
        await engine.dispose()
