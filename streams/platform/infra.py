"""Riding out infrastructure errors (Redis, Kafka) with backoff.

Every step Herald takes is idempotent or fenced, so a step that failed because Redis or
the broker was unreachable is simply repeated until it succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["INFRA_ERRORS", "durable", "until_answered"]

log = logging.getLogger(__name__)

T = TypeVar("T")

INFRA_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    KafkaError,
    ConnectionError,
    OSError,
)


async def durable(step: Callable[[], Awaitable[T]], what: str) -> T:
    """Run ``step`` until it does not fail with an infrastructure error."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await step()
        except INFRA_ERRORS as exc:
            if isinstance(exc, MessageSizeTooLargeError):
                raise  # not an outage: the same record would be refused forever
            delay = min(5.0, 0.2 * 2 ** min(attempt - 1, 5)) * random.uniform(0.5, 1.0)
            log.warning(
                "infrastructure error; retrying",
                extra={
                    "what": what,
                    "attempt": attempt,
                    "delay": round(delay, 2),
                    "error": repr(exc),
                },
            )
            await asyncio.sleep(delay)


async def until_answered(
    attempt: Callable[[], Awaitable[BaseException | None]],
    timeout: float,  # noqa: ASYNC109 - the deadline of the whole wait
    *,
    max_delay: float,
) -> BaseException | None:
    """Repeat ``attempt`` (``None``: it succeeded; else why not) until it succeeds or
    ``timeout`` seconds have passed: ``None``, or the last failure. Sleeps from 10 ms,
    doubling up to ``max_delay``, never past the deadline (a service starting up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.01
    while True:
        last = await attempt()
        if last is None:
            return None
        remaining = deadline - loop.time()
        if remaining <= 0:
            return last
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, max_delay)
