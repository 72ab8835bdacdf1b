"""Collecting records into batches: at most ``max_size``, or whatever came within ``window``.

The router agent adds each record as Faust delivers it; a batch goes to ``handle`` when
it is full (the agent waits for it: that is the backpressure on the consumer) or when
``window`` seconds passed since its first record. Batches are handled one at a time and
in order, so records keep their order into the batch path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Collector"]

T = TypeVar("T")


class Collector(Generic[T]):
    def __init__(
        self, handle: Callable[[list[T]], Awaitable[None]], *, max_size: int, window: float
    ) -> None:
        self._handle = handle
        self._max = max(1, max_size)
        self._window = window
        self._items: list[T] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    async def add(self, item: T) -> None:
        self._items.append(item)
        if len(self._items) >= self._max:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(self._window)
        self._timer = None
        await self.flush()

    async def flush(self) -> None:
        """Hand what was collected to ``handle`` (after any batch still being handled)."""
        async with self._lock:
            if self._timer is not None and self._timer is not asyncio.current_task():
                self._timer.cancel()
                self._timer = None
            items, self._items = self._items, []
            if items:
                await self._handle(items)
