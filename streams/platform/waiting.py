"""Waiting for an in-process object to change: :class:`ChangeWaiter`.

The in-memory sinks and the tenant configuration caches share it: tests (and tools) wait
for a condition on the object, re-checked each time the object says it changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Self, TypeVar

__all__ = ["ChangeWaiter"]

_T = TypeVar("_T")


class ChangeWaiter:
    """``wait_for(predicate)``, re-checked on each change.

    A subclass calls :meth:`_notify` after each change it makes.
    """

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(self, predicate: Callable[[Self], _T]) -> _T:
        """The first truthy ``predicate(self)`` (bound it with ``asyncio.timeout``)."""
        while True:
            changed = self._changed
            result = predicate(self)
            if result:
                return result
            await changed.wait()
