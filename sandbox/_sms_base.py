"""What the Twilio and SNS fakes share: injected faults, waiting on changes, shutdown."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

__all__ = ["SmsFault", "SmsSandboxBase", "recipient_key"]

_T = TypeVar("_T")
_NON_DIGITS = re.compile(r"\D+")


def recipient_key(to: str) -> str:
    """Faults are keyed by the recipient's digits (any spelling), or ``*`` for everyone."""
    return to if to == "*" else _NON_DIGITS.sub("", to)


@dataclass(slots=True)
class SmsFault:
    """What to do to requests for one recipient instead of accepting them.

    ``delay`` seconds pass first (``math.inf``: never answer, until the server stops).
    Then ``raw_body`` is answered as is, or else the service's error ``code`` (Twilio's
    number or AWS's code) with ``http_status``; with neither (a pure delay) the request
    is handled normally. ``times`` limits how many requests it applies to (``None``: all).
    """

    http_status: int = 400
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    delay: float | None = None
    raw_body: bytes | None = None
    times: int | None = None


class SmsSandboxBase:
    """Fault book, change notification and background tasks of one fake."""

    def __init__(self) -> None:
        self.faults: dict[str, SmsFault] = {}
        #: Requests currently held back by a delay or hang fault.
        self.held = 0
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    # --- faults -----------------------------------------------------------------------

    def add_fault(self, to: str, fault: SmsFault) -> SmsFault:
        """Apply ``fault`` to requests for recipient ``to`` (any spelling; ``*``: everyone)."""
        self.faults[recipient_key(to)] = fault
        return fault

    def fail(
        self,
        to: str,
        code: str | int,
        *,
        http_status: int = 400,
        message: str | None = None,
        retry_after: float | None = None,
        times: int | None = None,
    ) -> SmsFault:
        """Answer requests for ``to`` with the service's error ``code``."""
        return self.add_fault(
            to,
            SmsFault(
                http_status=http_status,
                code=str(code),
                message=message,
                retry_after=retry_after,
                times=times,
            ),
        )

    def hang(self, to: str, seconds: float = math.inf, *, times: int | None = None) -> SmsFault:
        """Delay requests for ``to`` by ``seconds`` (default: never answer)."""
        return self.add_fault(to, SmsFault(delay=seconds, times=times))

    def garble(
        self, to: str, *, http_status: int = 200, body: bytes = b"<html>oops</html>"
    ) -> SmsFault:
        """Answer requests for ``to`` with ``body`` (not the service's) and ``http_status``."""
        return self.add_fault(to, SmsFault(http_status=http_status, raw_body=body))

    def clear_faults(self) -> None:
        self.faults.clear()

    def take_fault(self, to: str) -> SmsFault | None:
        """The fault for ``to``, counting one use of it."""
        key = recipient_key(to)
        fault = self.faults.get(key) or self.faults.get("*")
        if fault is None:
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.faults.pop(key if key in self.faults else "*", None)
        return fault

    async def hold(self, fault: SmsFault) -> bool:
        """Wait out ``fault.delay``; ``True`` when the fake is closing instead."""
        if not fault.delay:
            return False
        timeout = None if math.isinf(fault.delay) else fault.delay
        self.held += 1
        self.notify()
        try:
            await asyncio.wait_for(self._closing.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.held -= 1
            self.notify()

    # --- waiting (tests) --------------------------------------------------------------

    def notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(self, predicate: Callable[[], _T]) -> _T:
        """Wait until ``predicate()`` is truthy (re-checked on every change); return it.

        Waits without limit: bound it with ``asyncio.timeout``.
        """
        while True:
            changed = self._changed
            result = predicate()
            if result:
                return result
            await changed.wait()

    # --- background work --------------------------------------------------------------

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._session

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def reopen(self) -> None:
        self._closing = asyncio.Event()

    async def close(self) -> None:
        """Stop background work, release held requests and close the HTTP client."""
        self._closing.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
