"""manage the in-app inbox database (migrations, retention)

The inbox database is DATABASE_URL (PostgreSQL, or the embedded SQLite default). Its schema
is managed by Alembic migrations shipped with Herald.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy.exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from providers.database import TABLE_NAME, InboxStore, create_inbox_engine
from schemas.settings import Settings
from schemas.status import utcnow
from seeds.data import PROVIDERS
from streams.cli._support import add_actions, add_command
from streams.cli.errors import CommandError, ServiceUnavailable, redact_url
from streams.inbox import current_revision, downgrade, head_revision, upgrade

__all__ = ["register"]


def _retention_days() -> int:
    """The seed's ``retentionDays`` of the database-inbox provider row (90)."""
    row = next(p for p in PROVIDERS if p.provider_type == "database")
    return int(row.configuration.get("retentionDays", 90))


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "db", doc=__doc__)
    actions = add_actions(parser)
    up = add_command(
        actions, "upgrade", _upgrade, help="apply the migrations (to the newest by default)"
    )
    up.add_argument("revision", nargs="?", default="head")
    down = add_command(
        actions, "downgrade", _downgrade, help="revert to REVISION ('base' drops the inbox)"
    )
    down.add_argument("revision")
    add_command(actions, "current", _current, help="print the database's revision and the newest")
    purge = add_command(
        actions,
        "purge",
        _purge,
        help=f"delete notifications older than --days (seed: {_retention_days()})",
    )
    purge.add_argument("--days", type=int, default=_retention_days())


@asynccontextmanager
async def _engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_inbox_engine(settings.database_url)
    try:
        yield engine
    except (sa_exc.SQLAlchemyError, OSError) as exc:
        unreachable = isinstance(exc, OSError | sa_exc.OperationalError | sa_exc.InterfaceError)
        raise (ServiceUnavailable if unreachable else CommandError)(
            f"inbox database {redact_url(settings.database_url)}: {type(exc).__name__}: "
            f"{(str(exc).splitlines() or [''])[0][:300]}",
            "check DATABASE_URL and that the database is running" if unreachable else None,
        ) from exc
    finally:
        await engine.dispose()


async def _upgrade(args: argparse.Namespace, settings: Settings) -> int:
    async with _engine(settings) as engine:
        await upgrade(engine, args.revision)
        print(f"inbox database at revision {await current_revision(engine)}")
    return 0


async def _downgrade(args: argparse.Namespace, settings: Settings) -> int:
    async with _engine(settings) as engine:
        await downgrade(engine, args.revision)
        print(f"inbox database at revision {await current_revision(engine) or 'base'}")
    return 0


async def _current(args: argparse.Namespace, settings: Settings) -> int:
    async with _engine(settings) as engine:
        revision = await current_revision(engine)
    head = head_revision()
    print(f"current: {revision or 'none (run `herald db upgrade`)'}")
    print(f"newest:  {head}")
    return 0 if revision == head else 1


async def _purge(args: argparse.Namespace, settings: Settings) -> int:
    if args.days < 1:
        raise CommandError("--days must be at least 1")
    async with _engine(settings) as engine:
        deleted = await InboxStore(engine).purge(utcnow() - timedelta(days=args.days))
    print(f"deleted {deleted} notification(s) older than {args.days} days from {TABLE_NAME}")
    return 0
