"""The inbox table, described once for SQLAlchemy Core (queries) and checked against the
Alembic migrations (a test compares the migrated schema with this description).

One row per (tenant, notification id): storing is idempotent on that pair. The name is
the seed's ``configuration.tableName`` of the ``database-inbox`` provider row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

__all__ = ["TABLE_NAME", "JSONType", "RowId", "UTCDateTime", "inbox_table", "metadata"]

TABLE_NAME = "user_notifications"


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes everywhere: ``timestamptz`` on PostgreSQL; on SQLite (which has
    no time zones) naive UTC text, so that text order is time order."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: inbox timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"unexpected timestamp value {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
#: BIGINT identity on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

inbox_table = sa.Table(
    TABLE_NAME,
    metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("notification_id", sa.String(256), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("subject", sa.Text(), nullable=True),
    sa.Column("body", sa.Text(), nullable=True),
    sa.Column("html", sa.Text(), nullable=True),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("read_at", UTCDateTime(), nullable=True),
    sa.Column("archived_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("tenant_id", "notification_id", name="uq_user_notifications_notification"),
)

#: The feed's keyset order: one user's rows, newest first, the row id breaking ties.
sa.Index(
    "ix_user_notifications_feed",
    inbox_table.c.tenant_id,
    inbox_table.c.user_id,
    inbox_table.c.created_at.desc(),
    inbox_table.c.id.desc(),
)
