"""Where the inbox migrations live and how Alembic is configured: in code, no alembic.ini.

The migrations are package data of ``streams.inbox`` (``migrations/``), so an installed
Herald finds them wherever it is installed.
"""

from __future__ import annotations

from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["SCRIPT_LOCATION", "VERSION_TABLE", "alembic_config", "lock_migrations"]

SCRIPT_LOCATION = "streams.inbox:migrations"
#: Herald's own version table, so that DATABASE_URL may point at a database that already
#: has an ``alembic_version`` of its own.
VERSION_TABLE = "herald_inbox_version"
#: pg_advisory_xact_lock key ("HRLD"): two workers migrating at once take turns.
_LOCK_KEY = 0x48524C44


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def lock_migrations(connection: Connection) -> None:
    """Serialize concurrent migrations (PostgreSQL; SQLite locks the whole file anyway)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
