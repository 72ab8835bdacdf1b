"""Per-notification state in Redis: idempotency, correlation and monotonic status.

One hash per notification (``streams.tenancy.keys.notification``) holds:

``phase``
    Where the router got to: ``claimed`` -> ``accepted`` -> ``sent`` | ``failed``, or
    ``rejected``, or ``dispatched`` (handed to another worker role). These are terminal
    for the router: a request whose record is terminal is a duplicate and causes nothing.
``rank``
    The highest delivery status recorded (see :data:`RANKS`). Status events from
    webhooks and acks only move it forward; a late ``delivered`` after ``read`` is
    dropped, and each status is recorded once.
``channel``, ``provider``, ``pmid``, ``metadata``
    What a later status event needs to be complete.

Correlation: ``provider message id -> (tenant, notification)`` is written just before
the ``sent`` rank (``record_sent``), before the router emits ``sent``. A webhook that
arrives earlier is *parked* (atomically with the check), and handed back by the
correlation's write, so an early delivery report is never lost. Every multi-key operation is one Lua
script whose keys share one hash slot (the notification's keys: its tenant; the
correlation and parked list: the correlation key's), so the same scripts run on one
Redis primary and on Redis Cluster (``streams.platform.redis``).
"""

from __future__ import annotations

import logging
from typing import Any, overload

import orjson
from redis.asyncio import Redis

from schemas.status import Status, utcnow
from streams.pipeline.records import (
    RANKS,
    TERMINAL_PHASES,
    NotificationRecord,
    ParkedStatus,
    as_text,
    parked_for,
)
from streams.platform.infra import durable
from streams.tenancy import keys

log = logging.getLogger(__name__)

__all__ = [
    "ADVANCE_RULE",
    "RANKS",
    "TERMINAL_PHASES",
    "NotificationRecord",
    "NotificationState",
    "ParkedStatus",
    "parked_for",
]

# KEYS[1] notification hash; ARGV: ttl. Returns the existing record (flat list) or {} if new.
_CLAIM = """
local existing = redis.call('HGETALL', KEYS[1])
if #existing > 0 then return existing end
redis.call('HSET', KEYS[1], 'phase', 'claimed', 'rank', '0')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {}
"""

#: The status transition rule (Lua ``allowed(cur, new)`` on ranks) of the scripts below
#: and of the batch scripts (``batchstate.py``).
ADVANCE_RULE = """
local function allowed(cur, new)
  if cur == 9 then return false end
  if new == 9 then return cur < 3 end
  return new > cur
end
"""

# KEYS[1] notification hash; ARGV: attempt, provider.
# Starts a provider attempt: only from accepted/scheduled, only with a higher attempt number
# than any started before (a fencing token: duplicated retry envelopes cannot both send).
_BEGIN_ATTEMPT = """
local phase = redis.call('HGET', KEYS[1], 'phase')
if phase ~= 'accepted' and phase ~= 'scheduled' then return 0 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0')
if tonumber(ARGV[1]) <= cur then return 0 end
redis.call('HSET', KEYS[1], 'phase', 'sending', 'attempt', ARGV[1], 'provider', ARGV[2])
return 1
"""

# KEYS[1] notification hash; ARGV: new rank. Returns the record (flat list) if advanced, else {}.
_ADVANCE = (
    ADVANCE_RULE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local cur = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
local new = tonumber(ARGV[1])
if not allowed(cur, new) then return {} end
redis.call('HSET', KEYS[1], 'rank', ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""
)

# KEYS: correlation key, parked list (one slot). ARGV: correlation value, ttl.
# Writes the correlation, returns the parked statuses (and deletes them): atomic with
# _RESOLVE_OR_PARK, so a report is either parked before it or resolved after it.
_CORRELATE = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
local parked = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return parked
"""

# KEYS[1] notification hash; ARGV: sent rank, pmid, attempt ('' = no check).
# Records the pmid, advances to sent. With an attempt: only if the record is `sending`
# that attempt (or already has this pmid); else nothing is written and false is returned
# (a zombie's late result). ARGV[4]: the notification's TTL: a hash that expired meanwhile
# is re-created with its TTL, never without.
_RECORD_SENT = (
    ADVANCE_RULE
    + """
if ARGV[3] ~= '' then
  local st = redis.call('HMGET', KEYS[1], 'phase', 'attempt', 'pmid')
  local current = st[1] == 'sending' and st[2] == ARGV[3]
  if not current and st[3] ~= ARGV[2] then return false end
end
redis.call('HSET', KEYS[1], 'pmid', ARGV[2])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
local cur = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
if allowed(cur, tonumber(ARGV[1])) then redis.call('HSET', KEYS[1], 'rank', ARGV[1]) end
return 1
"""
)

# KEYS[1] notification hash; ARGV: rank, ttl. Sets the rank; a re-created hash gets its TTL.
_REWIND = """
redis.call('HSET', KEYS[1], 'rank', ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"""

# KEYS: correlation key, parked list. ARGV: parked status json, park ttl, max parked.
# Returns the correlation value if known; else parks the status and returns false.
_RESOLVE_OR_PARK = """
local corr = redis.call('GET', KEYS[1])
if corr then return corr end
if redis.call('LLEN', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return false
"""


class NotificationState:
    """The Redis side of idempotency, correlation and monotonic statuses."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl_seconds: int,
        correlation_ttl_seconds: int,
        park_ttl_seconds: int = 3600,
        max_parked: int = 16,
    ) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._corr_ttl = correlation_ttl_seconds
        self._park_ttl = park_ttl_seconds
        self._max_parked = max_parked
        self._claim = redis.register_script(_CLAIM)
        self._advance = redis.register_script(_ADVANCE)
        self._begin_attempt = redis.register_script(_BEGIN_ATTEMPT)
        self._correlate = redis.register_script(_CORRELATE)
        self._record_sent = redis.register_script(_RECORD_SENT)
        self._rewind = redis.register_script(_REWIND)
        self._resolve_or_park = redis.register_script(_RESOLVE_OR_PARK)

    @property
    def redis(self) -> Redis:
        return self._redis

    async def claim(self, tenant_id: str, notification_id: str) -> NotificationRecord | None:
        """Create the record; return ``None`` if new, else the existing record."""
        flat = await self._claim(
            keys=[keys.notification(tenant_id, notification_id)], args=[self._ttl]
        )
        if not flat:
            return None
        return NotificationRecord.from_flat(tenant_id, notification_id, flat)

    async def set_phase(
        self, tenant_id: str, notification_id: str, phase: str, **fields: str
    ) -> None:
        """Set the phase (and ``fields``), stamped with its time (``updatedAt``)."""
        key = keys.notification(tenant_id, notification_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"phase": phase, "updatedAt": utcnow().isoformat()})
            for name, value in fields.items():
                pipe.hset(key, name, value)
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def mark_accepted(
        self,
        tenant_id: str,
        notification_id: str,
        *,
        channel: str,
        provider: str,
        metadata: dict[str, Any],
    ) -> None:
        key = keys.notification(tenant_id, notification_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "phase": "accepted",
                    "channel": channel,
                    "provider": provider,
                    "metadata": orjson.dumps(metadata),
                },
            )
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def begin_attempt(
        self, tenant_id: str, notification_id: str, attempt: int, provider: str
    ) -> bool:
        """Mark provider attempt ``attempt`` as started; ``False`` if it must not start."""
        started = await self._begin_attempt(
            keys=[keys.notification(tenant_id, notification_id)], args=[attempt, provider]
        )
        return bool(started)

    async def schedule(self, tenant_id: str, notification_id: str, retry: dict[str, Any]) -> None:
        """Phase ``scheduled``: a retry envelope (``retry``) is, or is about to be, waiting."""
        await self.set_phase(
            tenant_id, notification_id, "scheduled", retry=orjson.dumps(retry).decode()
        )

    async def advance(
        self, tenant_id: str, notification_id: str, status: Status
    ) -> NotificationRecord | None:
        """Move the status forward; return the record if this call moved it, else ``None``."""
        flat = await self._advance(
            keys=[keys.notification(tenant_id, notification_id)], args=[RANKS[status]]
        )
        if not flat:
            return None
        return NotificationRecord.from_flat(tenant_id, notification_id, flat)

    async def rewind(self, tenant_id: str, notification_id: str, rank: int) -> None:
        """Undo an :meth:`advance` whose event could not be emitted."""
        await self._rewind(
            keys=[keys.notification(tenant_id, notification_id)], args=[rank, self._ttl]
        )

    @overload
    async def record_sent(
        self, tenant_id: str, notification_id: str, provider: str, provider_message_id: str
    ) -> list[ParkedStatus]: ...

    @overload
    async def record_sent(
        self,
        tenant_id: str,
        notification_id: str,
        provider: str,
        provider_message_id: str,
        attempt: int,
    ) -> list[ParkedStatus] | None: ...

    async def record_sent(
        self,
        tenant_id: str,
        notification_id: str,
        provider: str,
        provider_message_id: str,
        attempt: int | None = None,
    ) -> list[ParkedStatus] | None:
        """Correlate the provider message id, advance to ``sent``; return parked statuses.

        Two scripts, one per slot: the correlation first (a crash before the second leaves
        the attempt ``sending``, resolved as any crash during the provider call), then the
        notification. A report arriving between them finds the correlation and advances the
        record past ``sent`` (each status still once, never backwards).

        With ``attempt``: a compare-and-set on it -- ``None`` (nothing written) when the
        record is no longer ``sending`` that attempt. The attempt is checked before the
        correlation is written and again, atomically, when the notification is.
        """
        key = keys.notification(tenant_id, notification_id)
        if attempt is not None:
            phase, current, pmid = await self._redis.hmget(key, ["phase", "attempt", "pmid"])
            is_current = phase is not None and as_text(phase) == "sending"
            is_current = is_current and current is not None and as_text(current) == str(attempt)
            if not is_current and (pmid is None or as_text(pmid) != provider_message_id):
                return None
        corr = orjson.dumps({"t": tenant_id, "n": notification_id})
        parked = await self._correlate(
            keys=[
                keys.correlation(provider, provider_message_id),
                keys.parked(provider, provider_message_id),
            ],
            args=[corr, self._corr_ttl],
        )
        # Repeated until done: a failed call must not rerun the first script, whose parked
        # statuses are taken (and deleted) once.
        recorded = await durable(
            lambda: self._record_sent(
                keys=[key],
                args=[
                    RANKS[Status.SENT],
                    provider_message_id,
                    "" if attempt is None else attempt,
                    self._ttl,
                ],
            ),
            "record sent",
        )
        if recorded is None:  # lost the attempt between the check and the write (a race)
            return None
        return parked_for(tenant_id, provider, parked)

    async def resolve_or_park(
        self, provider: str, provider_message_id: str, parked: ParkedStatus
    ) -> tuple[str, str] | None:
        """Return ``(tenant, notification)`` for a provider message id, or park the status."""
        corr = await self._resolve_or_park(
            keys=[
                keys.correlation(provider, provider_message_id),
                keys.parked(provider, provider_message_id),
            ],
            args=[parked.to_json(), self._park_ttl, self._max_parked],
        )
        if not corr:
            return None
        data = orjson.loads(corr)
        return str(data["t"]), str(data["n"])

    async def get(self, tenant_id: str, notification_id: str) -> NotificationRecord | None:
        flat_map = await self._redis.hgetall(keys.notification(tenant_id, notification_id))
        if not flat_map:
            return None
        flat: list[Any] = []
        for k, v in flat_map.items():
            flat.extend((k, v))
        return NotificationRecord.from_flat(tenant_id, notification_id, flat)
