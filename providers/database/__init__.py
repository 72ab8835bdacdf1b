"""The ``database`` provider: the in-app inbox on PostgreSQL or SQLite.

:class:`DatabaseProvider` stores notifications; :class:`InboxStore` (SQLAlchemy 2 async
Core) is the store it shares with the inbox endpoints; :class:`Cursor` is the feed's
opaque keyset cursor; :data:`DB_ERRORS` is how database errors become Herald's.
The schema is created by the Alembic migrations in ``streams.inbox``.
"""

from __future__ import annotations

from providers.database._credentials import DatabaseCredentials
from providers.database._cursor import Cursor, InvalidCursor
from providers.database._errors import DB_ERRORS, SCHEMA_MISSING, db_error
from providers.database._provider import DatabaseProvider
from providers.database._store import InboxPage, InboxRow, InboxStore, create_inbox_engine
from providers.database._table import TABLE_NAME, inbox_table, metadata

__all__ = [
    "DB_ERRORS",
    "SCHEMA_MISSING",
    "TABLE_NAME",
    "Cursor",
    "DatabaseCredentials",
    "DatabaseProvider",
    "InboxPage",
    "InboxRow",
    "InboxStore",
    "InvalidCursor",
    "create_inbox_engine",
    "db_error",
    "inbox_table",
    "metadata",
]
