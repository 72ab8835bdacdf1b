"""Bounded, overlapping work with per-key order.

The router must not let one slow provider call serialize a partition, yet two
messages to the same recipient must keep their order. :class:`InFlight` runs up to
``limit`` jobs at once; jobs that share an ordering key run one after the other in
submission order. ``submit`` blocks while the limit is reached (that is the
backpressure on the consumer), and each job's ``done`` callback runs when it ends,
whatever happened, so the caller can acknowledge the Kafka offset then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["Done", "InFlight", "run_to_end"]

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
Done = Callable[[], Awaitable[object]]
_Item = TypeVar("_Item")


async def run_to_end(submit: Callable[[_Item, Done], Awaitable[None]], item: _Item) -> None:
    """``submit(item, done)``, then wait until ``done`` has run: one record processed to
    the end (the processors' ``process``, for tests and tools)."""
    finished = asyncio.Event()

    async def done() -> None:
        finished.set()

    await submit(item, done)
    await finished.wait()


class InFlight:
    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.limit = limit

    @property
    def active(self) -> int:
        return len(self._tasks)

    @property
    def full(self) -> bool:
        """No free slot: :meth:`acquire` would wait."""
        return self._slots.locked()

    def busy(self, order_key: str) -> bool:
        """A job with this ordering key is running or waiting."""
        return order_key in self._tails

    async def submit(self, order_key: str, job: Job, done: Done) -> None:
        await self._slots.acquire()
        self.spawn(order_key, job, done)

    async def acquire(self) -> None:
        """Take a slot for a job that :meth:`spawn` will start (the batch path)."""
        await self._slots.acquire()

    def spawn(self, order_key: str, job: Job, done: Done) -> None:
        """Start ``job`` in a slot taken with :meth:`acquire`, after its key's previous job."""
        previous = self._tails.get(order_key)
        task = asyncio.create_task(self._run(order_key, previous, job, done))
        self._tails[order_key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, order_key: str, previous: asyncio.Task[None] | None, job: Job, done: Done
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:  # the job handles its own errors; this is the last guard
            log.exception("in-flight job failed", extra={"order_key": order_key[:80]})
        finally:
            self._slots.release()
            if self._tails.get(order_key) is asyncio.current_task():
                del self._tails[order_key]
            try:
                await done()
            except Exception:
                log.exception("in-flight completion callback failed")

    async def drain(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait for every job submitted so far; ``False`` if ``timeout`` passed first."""
        pending = set(self._tasks)
        if not pending:
            return True
        _, still = await asyncio.wait(pending, timeout=timeout)
        return not still
