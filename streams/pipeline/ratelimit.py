"""A token bucket in Redis: atomic, one round trip (a Lua script).

``take(key, rate, burst)`` either takes a token and returns 0, or returns how many
seconds to wait until one is available. Callers delay, they never drop. The router's
buckets are keyed ``{tenant}:provider`` (the tenant's hash slot).
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

__all__ = ["TokenBucket"]

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
