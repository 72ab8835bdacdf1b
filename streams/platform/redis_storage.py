"""Redis is Herald's primary storage: check, at worker start, that it is configured as one.

Redis holds integrations (encrypted credentials), API keys, idempotency and status
records, leases and WhatsApp session archives. Two settings of the server decide whether
it keeps them:

* ``maxmemory-policy`` must be ``noeviction``: any other policy lets Redis delete keys
  when memory runs short -- an integration, an API key, a lease (two workers would then
  drive one WhatsApp number). ``HERALD_REDIS_EVICTION_CHECK``: ``refuse`` (default) stops
  the worker with a message, ``warn`` logs one warning, ``off`` skips the check.
* persistence (``appendonly yes``, or RDB ``save`` points) -- without it a Redis restart
  loses everything. ``HERALD_REDIS_PERSISTENCE_CHECK``: ``warn`` (default), ``refuse``,
  ``off``. A replica with its own persistence can stand in for it; the default warns.

Managed services may refuse ``CONFIG GET``: the policy is then read from ``INFO memory``
and AOF from ``INFO persistence``; what cannot be read is warned about, never refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from schemas import Settings
from schemas.errors import HeraldError

__all__ = ["RedisStorageFindings", "UnsafeRedis", "check_redis_storage", "inspect_redis"]

log = logging.getLogger(__name__)


class UnsafeRedis(HeraldError):
    """Redis would lose Herald's data; the message names the setting to change."""


@dataclass
class RedisStorageFindings:
    policy: str | None = None  # maxmemory-policy, None if unreadable
    aof: bool | None = None
    rdb: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def persistent(self) -> bool | None:
        if self.aof or self.rdb:
            return True
        if self.aof is None or self.rdb is None:
            return None
        return False


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _config(redis: Redis, name: str) -> str | None:
    try:
        found = await redis.config_get(name)
    except ResponseError:  # CONFIG renamed or disabled (managed Redis)
        return None
    for key, value in found.items():
        if _text(key) == name:
            return _text(value)
    return None


async def inspect_redis(redis: Redis) -> RedisStorageFindings:
    found = RedisStorageFindings()
    found.policy = await _config(redis, "maxmemory-policy")
    appendonly = await _config(redis, "appendonly")
    save = await _config(redis, "save")
    found.aof = None if appendonly is None else appendonly == "yes"
    found.rdb = None if save is None else bool(save.strip())
    if found.policy is None or found.aof is None:
        try:
            memory = await redis.info("memory")
            persistence = await redis.info("persistence")
        except ResponseError:
            found.notes.append("neither CONFIG GET nor INFO answered")
            return found
        if found.policy is None and "maxmemory_policy" in memory:
            found.policy = _text(memory["maxmemory_policy"])
        if found.aof is None and "aof_enabled" in persistence:
            found.aof = str(persistence["aof_enabled"]) == "1"
    return found


async def check_redis_storage(redis: Redis, settings: Settings) -> RedisStorageFindings:
    """Inspect Redis; warn, or raise :class:`UnsafeRedis`, as the settings say."""
    found = await inspect_redis(redis)
    problems: list[tuple[str, str]] = []  # (mode, message)
    if settings.redis_eviction_check != "off":
        if found.policy is None:
            log.warning("cannot read Redis' maxmemory-policy: make sure it is noeviction")
        elif found.policy != "noeviction":
            problems.append(
                (
                    settings.redis_eviction_check,
                    f"Redis maxmemory-policy is {found.policy!r}: Redis may evict Herald's "
                    "integrations, API keys and leases under memory pressure; set it to "
                    "'noeviction' (or HERALD_REDIS_EVICTION_CHECK=warn to run anyway)",
                )
            )
    if settings.redis_persistence_check != "off":
        if found.persistent is None:
            log.warning("cannot read Redis' persistence settings: make sure AOF or RDB is on")
        elif not found.persistent:
            problems.append(
                (
                    settings.redis_persistence_check,
                    "Redis persists nothing (appendonly no, no save points): a restart loses "
                    "every integration, key and session; enable AOF (appendonly yes) "
                    "(or HERALD_REDIS_PERSISTENCE_CHECK=off for a throwaway Redis)",
                )
            )
    refused = [message for mode, message in problems if mode == "refuse"]
    if refused:
        raise UnsafeRedis("; ".join(refused))
    for _, message in problems:
        log.warning(message)
    return found
