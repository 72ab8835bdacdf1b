"""Anti-ban pacing: a session sends at most ``rate`` messages per minute, with jitter.

WhatsApp bans numbers that send like machines. Each session keeps its own pacer, so a
tenant's gap never delays another tenant's messages (their sends run concurrently; a
tenant's own messages go one at a time in order). The first message after a quiet
period goes at once; each next one waits ``60/rate`` seconds after the previous, plus
a random ``0..jitter`` seconds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

__all__ = ["Pacer"]


class Pacer:
    def __init__(
        self,
        rate_per_minute: float,
        jitter_seconds: float,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.interval = 60.0 / rate_per_minute if rate_per_minute > 0 else 0.0
        self.jitter = max(0.0, jitter_seconds) if self.interval > 0 else 0.0
        self._clock = clock or asyncio.get_running_loop().time
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._next = 0.0
        self._lock = asyncio.Lock()

    def configure(self, rate_per_minute: float, jitter_seconds: float) -> None:
        self.interval = 60.0 / rate_per_minute if rate_per_minute > 0 else 0.0
        self.jitter = max(0.0, jitter_seconds) if self.interval > 0 else 0.0

    def delay(self) -> float:
        """How long a send asked for now would wait."""
        return max(0.0, self._next - self._clock())

    async def wait(self) -> float:
        """Wait for this session's next send slot and take it; the seconds waited."""
        if self.interval <= 0:
            return 0.0
        async with self._lock:
            now = self._clock()
            waited = max(0.0, self._next - now)
            if waited > 0:
                await self._sleep(waited)
            start = max(now, self._next)
            self._next = start + self.interval + self._rng.uniform(0.0, self.jitter)
            return waited
