"""One owner per WhatsApp session: a lease in Redis with a fencing token.

WhatsApp lets one WhatsApp Web page per linked device be live: a second one puts the
first in ``CONFLICT``. Herald's workers therefore take a per-tenant lease before they
open a tenant's browser, and give it back after closing it (one lease per session: a
tenant's further sessions have their own, ``wppconnect:lease:{tenantId}@{sessionName}``,
see ``naming.py``):

* ``wppconnect:lease:{tenantId}`` -- a hash ``{owner, token}`` with a TTL
  (``WHATSAPP_WPPCONNECT_LEASE_TTL``), created only if absent (``acquire``), its TTL
  renewed by the owner (``renew``, a Lua compare-and-extend), deleted by the owner
  (``release``, a Lua compare-and-delete);
* ``wppconnect:fence:{tenantId}`` -- a hash: ``token``, a counter (each acquisition takes
  the next value as its fencing token, so a later owner always holds a larger token than
  an earlier one), the last ``owner``, and whether it ``released`` the lease or let it
  expire (a new owner tells a hand-over from a crash by it).

Before each send the owner checks that the lease still names it with its token
(``check``); archive writes are conditional on the same comparison (``tokens.py``). A
worker that lost its lease (it stalled past the TTL and another worker took over) can
therefore neither send nor overwrite the newer owner's archive.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from redis.asyncio import Redis

from providers._exceptions import RetryableError
from streams.whatsapp.naming import tagged

__all__ = ["Lease", "LeaseManager", "LeaseUnavailable", "fence_key", "lease_key"]


def lease_key(tenant_id: str) -> str:
    """Hash-tagged by tenant: one cluster slot with the fence and the token archive."""
    return f"wppconnect:lease:{tagged(tenant_id)}"


def fence_key(tenant_id: str) -> str:
    return f"wppconnect:fence:{tagged(tenant_id)}"


class LeaseUnavailable(RetryableError):
    """Another worker holds the session and did not let go in time."""

    def __init__(self, tenant_id: str, holder: str | None, waited: float) -> None:
        super().__init__(
            "session_owned_elsewhere",
            f"the WhatsApp session of {tenant_id} is held by another worker "
            f"({holder or 'unknown'}); waited {waited:.1f}s for it",
        )
        self.holder = holder


@dataclass(frozen=True, slots=True)
class Lease:
    tenant_id: str
    owner: str
    token: int
    #: How the previous owner let go: ``free`` (there was none, or it was this worker),
    #: ``released`` (it closed the session and gave the lease back) or ``expired``.
    how: str = "free"
    previous: str | None = None


# KEYS: lease, fence. ARGV: owner, ttl ms.
# -> {1, token, previous owner, previous released} or {0, holder, pttl}
_ACQUIRE = """
local holder = redis.call('HGET', KEYS[1], 'owner')
if holder then
  return {0, holder, redis.call('PTTL', KEYS[1])}
end
local previous = redis.call('HMGET', KEYS[2], 'owner', 'released')
local token = redis.call('HINCRBY', KEYS[2], 'token', 1)
redis.call('HSET', KEYS[2], 'owner', ARGV[1], 'released', '0')
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', token)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, token, previous[1] or '', previous[2] or ''}
"""

# KEYS: lease. ARGV: owner, token, ttl ms (0: compare only). -> remaining ms, or 0 if not ours
_RENEW = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1]
   or redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then
  return 0
end
if tonumber(ARGV[3]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return tonumber(ARGV[3])
end
return redis.call('PTTL', KEYS[1])
"""

# KEYS: lease, fence. ARGV: owner, token. -> 1 released, 0 not ours
_RELEASE = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1]
   and redis.call('HGET', KEYS[1], 'token') == ARGV[2] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'released', '1')
  return 1
end
return 0
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LeaseManager:
    """Leases of one worker (``owner``: unique per process)."""

    def __init__(self, redis: Redis, owner: str, *, ttl_ms: int = 30000) -> None:
        self._redis = redis
        self.owner = owner
        self.ttl_ms = ttl_ms
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def try_acquire(self, tenant_id: str) -> Lease | tuple[str, int]:
        """The lease, or ``(holder, remaining ms)`` when another worker holds it."""
        result = await self._acquire(
            keys=[lease_key(tenant_id), fence_key(tenant_id)], args=[self.owner, self.ttl_ms]
        )
        if int(result[0]) == 1:
            previous = _text(result[2])
            if not previous or previous == self.owner:
                how = "free"  # first owner, or this worker again
            else:
                how = "released" if _text(result[3]) == "1" else "expired"
            return Lease(tenant_id, self.owner, int(result[1]), how, previous or None)
        return _text(result[1]), int(result[2])

    async def acquire(self, tenant_id: str, *, wait: float) -> Lease:
        """Take the lease, waiting up to ``wait`` seconds for its holder to release it or for
        it to expire. A lease this worker already holds (an earlier run that did not
        release it) is taken over. Raises :class:`LeaseUnavailable`.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        delay = 0.05
        while True:
            got = await self.try_acquire(tenant_id)
            if isinstance(got, Lease):
                return got
            holder, remaining = got
            if holder == self.owner:
                # Ours from an earlier run (e.g. a close that could not reach Redis): reuse it.
                await self._redis.delete(lease_key(tenant_id))
                continue
            elapsed = loop.time() - started
            if elapsed >= wait:
                raise LeaseUnavailable(tenant_id, holder, elapsed)
            pause = delay if remaining < 0 else min(delay, remaining / 1000 + 0.01)
            await asyncio.sleep(min(pause, max(0.0, wait - elapsed)) + random.uniform(0, 0.02))
            delay = min(delay * 2, 0.25)

    async def renew(self, lease: Lease) -> bool:
        """Extend the lease by the TTL; ``False`` if it is no longer ours (lost)."""
        result = await self._renew(
            keys=[lease_key(lease.tenant_id)], args=[lease.owner, lease.token, self.ttl_ms]
        )
        return int(result) > 0

    async def check(self, lease: Lease) -> bool:
        """Still ours, with our fencing token? (Checked right before each send.)"""
        result = await self._renew(
            keys=[lease_key(lease.tenant_id)], args=[lease.owner, lease.token, 0]
        )
        return int(result) > 0

    async def release(self, lease: Lease) -> bool:
        """Give the lease back; ``False`` if it was no longer ours."""
        result = await self._release(
            keys=[lease_key(lease.tenant_id), fence_key(lease.tenant_id)],
            args=[lease.owner, lease.token],
        )
        return int(result) == 1

    async def holder(self, tenant_id: str) -> tuple[str, int] | None:
        """``(owner, token)`` of the current lease, or ``None``."""
        raw = await self._redis.hmget(lease_key(tenant_id), ["owner", "token"])
        if raw[0] is None:
            return None
        return _text(raw[0]), int(_text(raw[1]))
