"""Alembic environment of the inbox migrations.

Herald runs it programmatically (``streams.inbox.upgrade``), handing over an open
connection in ``config.attributes["connection"]``. Run by the ``alembic`` command
instead (``alembic -x url=... upgrade head`` with a config whose ``script_location`` is
``streams.inbox:migrations``), it builds an async engine from ``-x url=``,
``sqlalchemy.url`` or ``DATABASE_URL``.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from providers.database import metadata
from schemas.settings import Settings
from streams.inbox._config import VERSION_TABLE

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or Settings().database_url
    )


async def _run_with_engine(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_configure)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=_url(), target_metadata=metadata, version_table=VERSION_TABLE, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
elif (shared := config.attributes.get("connection")) is not None:
    _configure(shared)
else:
    asyncio.run(_run_with_engine(_url()))
