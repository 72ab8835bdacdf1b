"""A token bucket in Redis: atomic, one round trip (a Lua script).

``take(key, rate, burst)`` either takes a token and returns 0, or returns how many
seconds to wait until one is available. Callers delay, they never drop. The router's
buckets are keyed ``{tenant}:provider`` (the tenant's hash slot).

:class:`TokenLeases` holds tokens the router's batch claim took from a bucket ahead of
need (``HERALD_ROUTER_TOKEN_LEASE_MS`` worth of the bucket's rate): the next chunks of the
same tenant and provider spend them without a Redis read and write. A leased token not
spent within the lease is dropped, never returned: a worker can only send less than the
limit allows, never more (the tokens were taken from the shared bucket).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from redis.asyncio import Redis

__all__ = ["TokenBucket", "TokenLeases"]

# KEYS[1] bucket ("<tokens> <timestamp>", a string: two commands per call); ARGV: rate per
# second, burst, now (s), cost. Returns the wait in milliseconds (0 = tokens taken). The
# batch path (streams.pipeline.batchstate) reads and writes the same format.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local raw = redis.call('GET', KEYS[1])
local tokens, ts = burst, now
if raw then
  local sep = string.find(raw, ' ')
  tokens = tonumber(string.sub(raw, 1, sep - 1))
  ts = tonumber(string.sub(raw, sep + 1))
end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate) end
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = math.ceil((cost - tokens) / rate * 1000)
end
redis.call('SET', KEYS[1], string.format('%.6f %.6f', tokens, now),
  'PX', math.ceil(burst / rate * 1000) + 1000)
return wait
"""


class TokenBucket:
    def __init__(self, redis: Redis, prefix: str = "herald:tb") -> None:
        self._redis = redis
        self._prefix = prefix
        self._take = redis.register_script(_TAKE)

    async def take(self, key: str, *, rate: float, burst: int, cost: int = 1) -> float:
        """Take ``cost`` tokens: 0.0 if taken now, else the seconds to wait (nothing taken)."""
        wait_ms = await self._take(
            keys=[f"{self._prefix}:{key}"], args=[rate, burst, f"{time.time():.6f}", cost]
        )
        return int(wait_ms) / 1000.0


class TokenLeases:
    """Tokens taken from a Redis bucket ahead of need, spent in process until they expire.

    ``seconds``: how long a lease lasts, and how much of a bucket's rate one claim may take
    ahead (``ceil(rate * seconds)``, at most the burst); 0 turns leasing off.
    """

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._held: dict[str, tuple[int, float]] = {}  # bucket -> (tokens, expires at)

    def ahead(self, rate: float, burst: int) -> int:
        """How many tokens a claim that reads this bucket should lease beyond its need."""
        if self.seconds <= 0:
            return 0
        return min(burst, math.ceil(rate * self.seconds))

    def spend(self, bucket: str) -> bool:
        """Spend one leased token of ``bucket``; False if none is held (or it expired)."""
        held = self._held.get(bucket)
        if held is None:
            return False
        tokens, until = held
        if tokens <= 0 or self._clock() >= until:
            del self._held[bucket]
            return False
        self._held[bucket] = (tokens - 1, until)
        return True

    def grant(self, bucket: str, tokens: int) -> None:
        """``tokens`` were leased for ``bucket`` just now (what was left of it is dropped)."""
        if tokens > 0:
            self._held[bucket] = (tokens, self._clock() + self.seconds)
        else:
            self._held.pop(bucket, None)
