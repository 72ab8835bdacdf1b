"""Redis: where state, idempotency records, integrations and lookups live."""

from __future__ import annotations

from pydantic import Field

from schemas.settings._env import Section, env

__all__ = ["RedisSettings"]


class RedisSettings(Section):
    """Redis: where state, idempotency records, integrations and lookups live."""

    redis_url: str = Field(
        "redis://localhost:6379/0",
        validation_alias=env("REDIS_URL"),
        description="Redis URL (state, idempotency, integrations, lookups). A single primary: Herald's Lua scripts touch several keys.",
    )
    redis_max_connections: int = Field(
        64,
        ge=1,
        validation_alias=env("HERALD_REDIS_MAX_CONNECTIONS"),
        description="Redis connections per worker; more concurrent commands wait for a free one.",
    )
