"""The inbox store: SQLAlchemy 2 async Core over PostgreSQL (asyncpg) or SQLite (aiosqlite).

One :class:`InboxStore` per worker, holding the engine and its connection pool; the
provider writes through it and the inbox endpoints read and update through it. Every
database error leaves here translated into Herald's error tree (:func:`db_error`).

The schema itself is created by the Alembic migrations (``herald db upgrade``), never by
``metadata.create_all``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from providers.database._cursor import Cursor
from providers.database._errors import db_error
from providers.database._table import RowId, UTCDateTime, inbox_table
from schemas.errors import PermanentError, ProviderError
from schemas.notification import NotificationRequest
from schemas.status import ErrorCode, utcnow

__all__ = ["InboxPage", "InboxRow", "InboxStore", "create_inbox_engine"]

log = logging.getLogger(__name__)

_T = inbox_table
_SQLITE_BEGIN = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")
_C = inbox_table.c


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    tenant_id: str
    user_id: str
    notification_id: str
    channel: str
    provider: str
    subject: str | None
    body: str | None
    html: str | None
    metadata: dict[str, Any]
    created_at: datetime
    read_at: datetime | None
    archived_at: datetime | None

    @classmethod
    def from_mapping(cls, row: Any) -> InboxRow:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class InboxPage:
    items: list[InboxRow]
    next_cursor: Cursor | None
    unread_count: int


def create_inbox_engine(
    url: str, *, pool_size: int = 5, echo: bool = False, sqlite_busy_timeout: float = 30.0
) -> AsyncEngine:
    """An async engine for ``url`` (``postgresql+asyncpg://`` or ``sqlite+aiosqlite://``).

    SQLite gets WAL journaling and a busy timeout (30 s), so that concurrent sends wait for
    the writer lock instead of failing; PostgreSQL gets a bounded pool with pre-ping.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": sqlite_busy_timeout})

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # The driver's own transaction handling does not cover DDL: SQLAlchemy emits
            # BEGIN itself (below), so that migrations are transactional too.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @sa.event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            # ``sqlite_begin="IMMEDIATE"`` takes the write lock up front (migrations).
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            if mode not in _SQLITE_BEGIN:
                raise ValueError(f"sqlite_begin must be one of {', '.join(_SQLITE_BEGIN)}")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL journaling (it stays so: the mode is the file's).

    Switching needs the file to itself, and SQLite may answer "database is locked" at once,
    without waiting its busy timeout, while another connection opens or switches it too
    (several workers or migrations starting together on a new file). That is not an error:
    the file is in WAL mode once one of them got through, and a connection keeps working
    in the other mode until then; the next connection tries again.
    """
    cursor.execute("PRAGMA journal_mode")
    row = cursor.fetchone()
    if row is not None and str(row[0]).lower() == "wal":
        return
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except Exception as exc:  # the driver's OperationalError, as the async adapter wraps it
        if "database is locked" not in str(exc):
            raise
        log.debug("SQLite file busy: WAL journaling left to the next connection")


def _after(cursor: Cursor) -> sa.ColumnElement[bool]:
    """Rows strictly after ``cursor`` in (created_at DESC, id DESC) order."""
    return sa.tuple_(_C.created_at, _C.id) < sa.tuple_(
        sa.literal(cursor.created_at, UTCDateTime()), sa.literal(cursor.id, RowId)
    )


class InboxStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 5) -> InboxStore:
        return cls(create_inbox_engine(url, pool_size=pool_size))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction; database errors come out as :class:`ProviderError`."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except ProviderError:
            raise
        except (sa.exc.SQLAlchemyError, OSError, TimeoutError) as exc:
            raise db_error(exc) from exc

    # -- writes ----------------------------------------------------------------------

    def _insert(self) -> Any:
        if self.dialect == "postgresql":
            return postgresql.insert(_T)
        if self.dialect == "sqlite":
            return sqlite.insert(_T)
        raise PermanentError(
            ErrorCode.PROVIDER_ERROR, f"unsupported inbox database {self.dialect!r}"
        )

    async def store(
        self, request: NotificationRequest, *, provider: str, now: datetime | None = None
    ) -> tuple[InboxRow, bool]:
        """Store ``request`` for its ``recipient.userId``; idempotent on (tenant, id).

        Returns the row and whether this call created it (``False``: it was there).
        """
        if request.recipient.user_id is None:
            raise ValueError("request has no recipient.userId")
        content = request.content
        values = {
            "tenant_id": request.tenant_id,
            "user_id": request.recipient.user_id,
            "notification_id": request.id,
            "channel": request.channel.value,
            "provider": provider,
            "subject": content.subject,
            "body": content.body,
            "html": content.html,
            "metadata": request.metadata,
            "created_at": now or utcnow(),
        }
        stmt = (
            self._insert()
            .values(**values)
            .on_conflict_do_nothing(index_elements=[_C.tenant_id, _C.notification_id])
            .returning(*_T.c)
        )
        async with self._begin() as conn:
            created = (await conn.execute(stmt)).mappings().first()
            if created is not None:
                return InboxRow.from_mapping(created), True
            existing = (
                (await conn.execute(sa.select(_T).where(*self._key(request.tenant_id, request.id))))
                .mappings()
                .one()
            )
            return InboxRow.from_mapping(existing), False

    @staticmethod
    def _key(
        tenant_id: str, notification_id: str, user_id: str | None = None
    ) -> list[sa.ColumnElement[bool]]:
        where = [_C.tenant_id == tenant_id, _C.notification_id == notification_id]
        if user_id is not None:
            where.append(_C.user_id == user_id)
        return where

    async def _update(
        self,
        tenant_id: str,
        user_id: str,
        notification_id: str,
        values: dict[str, Any],
        only_if: sa.ColumnElement[bool] | None = None,
    ) -> tuple[InboxRow, bool] | None:
        """Update one user's row; ``None`` if it does not exist, else (row, changed)."""
        where = self._key(tenant_id, notification_id, user_id)
        stmt = sa.update(_T).where(*where)
        if only_if is not None:
            stmt = stmt.where(only_if)
        async with self._begin() as conn:
            changed = (
                (await conn.execute(stmt.values(**values).returning(*_T.c))).mappings().first()
            )
            if changed is not None:
                return InboxRow.from_mapping(changed), True
            row = (await conn.execute(sa.select(_T).where(*where))).mappings().first()
            return None if row is None else (InboxRow.from_mapping(row), False)

    async def mark_read(
        self, tenant_id: str, user_id: str, notification_id: str, *, at: datetime | None = None
    ) -> tuple[InboxRow, bool] | None:
        """Set ``read_at`` once. ``None``: no such notification for this user."""
        return await self._update(
            tenant_id, user_id, notification_id, {"read_at": at or utcnow()}, _C.read_at.is_(None)
        )

    async def mark_unread(self, tenant_id: str, user_id: str, notification_id: str) -> None:
        """Undo :meth:`mark_read` (when its ``read`` event could not be emitted)."""
        await self._update(tenant_id, user_id, notification_id, {"read_at": None})

    async def archive(
        self, tenant_id: str, user_id: str, notification_id: str, *, at: datetime | None = None
    ) -> tuple[InboxRow, bool] | None:
        return await self._update(
            tenant_id,
            user_id,
            notification_id,
            {"archived_at": at or utcnow()},
            _C.archived_at.is_(None),
        )

    async def delete(self, tenant_id: str, user_id: str, notification_id: str) -> bool:
        stmt = sa.delete(_T).where(*self._key(tenant_id, notification_id, user_id))
        async with self._begin() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def purge(self, older_than: datetime) -> int:
        """Delete every row created before ``older_than`` (retention); returns the count."""
        async with self._begin() as conn:
            return int(
                (await conn.execute(sa.delete(_T).where(_C.created_at < older_than))).rowcount
            )

    # -- reads -----------------------------------------------------------------------

    async def get(self, tenant_id: str, user_id: str, notification_id: str) -> InboxRow | None:
        async with self._begin() as conn:
            where = self._key(tenant_id, notification_id, user_id)
            row = (await conn.execute(sa.select(_T).where(*where))).mappings().first()
        return None if row is None else InboxRow.from_mapping(row)

    async def page(
        self,
        tenant_id: str,
        user_id: str,
        *,
        limit: int = 20,
        cursor: Cursor | None = None,
        include_archived: bool = False,
    ) -> InboxPage:
        """One page of the user's feed, newest first, and the user's unread count."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        mine = [_C.tenant_id == tenant_id, _C.user_id == user_id]
        query = sa.select(_T).where(*mine)
        if not include_archived:
            query = query.where(_C.archived_at.is_(None))
        if cursor is not None:
            query = query.where(_after(cursor))
        query = query.order_by(_C.created_at.desc(), _C.id.desc()).limit(limit + 1)
        unread = (
            sa.select(sa.func.count())
            .select_from(_T)
            .where(*mine, _C.read_at.is_(None), _C.archived_at.is_(None))
        )
        async with self._begin() as conn:
            rows = [InboxRow.from_mapping(r) for r in (await conn.execute(query)).mappings()]
            unread_count = int((await conn.execute(unread)).scalar_one())
        more = len(rows) > limit
        items = rows[:limit]
        next_cursor = Cursor(items[-1].created_at, items[-1].id) if more and items else None
        return InboxPage(items=items, next_cursor=next_cursor, unread_count=unread_count)
