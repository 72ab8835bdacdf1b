"""The in-app inbox database (the ``database`` provider)."""

from __future__ import annotations

from pydantic import Field

from schemas.settings._env import Section, env

__all__ = ["InboxSettings"]


class InboxSettings(Section):
    """The in-app inbox database (the ``database`` provider)."""

    database_url: str = Field(
        "sqlite+aiosqlite:///./herald-inbox.db",
        validation_alias=env("DATABASE_URL"),
        description="The in-app inbox's database (SQLAlchemy URL): postgresql+asyncpg://user:pass@host/db in production; the default is an embedded SQLite file in the working directory.",
    )
    db_auto_migrate: bool | None = Field(
        None,
        validation_alias=env("HERALD_DB_AUTO_MIGRATE"),
        description="Apply the inbox migrations when a worker starts. Unset: yes for SQLite, no for other databases (run `herald db upgrade` when deploying).",
    )
    db_pool_size: int = Field(
        5,
        ge=1,
        validation_alias=env("HERALD_DB_POOL_SIZE"),
        description="Connections a worker keeps to the inbox database (PostgreSQL; as many again may open under load).",
    )
