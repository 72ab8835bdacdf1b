"""A token bucket in Redis: atomic, one round trip (a Lua script).

``take(key, rate, burst)`` either takes a token and returns 0, or returns how many
seconds to wait until one is available. Callers delay, they never drop.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

__all__ = ["TokenBucket"]

# KEYS[1] bucket hash; ARGV: rate per second, burst, now (s), cost.
# Returns the wait in milliseconds (0 = token taken).
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate) end
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = math.ceil((cost - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""


class TokenBucket:
    def __init__(self, redis: Redis, prefix: str = "herald:bucket") -> None:
        self._redis = redis
        self._prefix = prefix
        self._take = redis.register_script(_TAKE)

    async def take(self, key: str, *, rate: float, burst: int, cost: int = 1) -> float:
        """Take ``cost`` tokens: 0.0 if taken now, else the seconds to wait (nothing taken)."""
        wait_ms = await self._take(
            keys=[f"{self._prefix}:{key}"], args=[rate, burst, f"{time.time():.6f}", cost]
        )
        return int(wait_ms) / 1000.0
