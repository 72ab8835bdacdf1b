"""Following a Redis pub/sub channel of changes, for the workers' in-process caches.

Every cache of tenant configuration on the hot path (integrations and their decrypted
credentials, the seed's lookups, tenants' delivery policies) is invalidated explicitly:
the process that changes the data publishes on the data's channel, and every worker
follows it with :func:`follow_channel`. Redis pub/sub keeps nothing for a subscriber that
is away, so on every (re)subscription the follower drops everything it holds
(``on_subscribed``) before it handles messages again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["follow_channel"]

log = logging.getLogger(__name__)

#: Seconds between two tries to subscribe again after the connection was lost.
RESUBSCRIBE_SECONDS = 1.0


async def follow_channel(
    redis: Redis,
    channel: str,
    on_message: Callable[[str], Awaitable[None] | None],
    *,
    on_subscribed: Callable[[], Awaitable[None] | None] | None = None,
    following: asyncio.Event | None = None,
) -> None:
    """Call ``on_message`` with each message of ``channel`` (decoded), until cancelled.

    ``on_subscribed`` runs after each (re)subscription, before any message; ``following``
    is set while subscribed (tests wait for it) and cleared when the feed is lost.
    """
    while True:
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(channel)
                if on_subscribed is not None:
                    await _maybe_await(on_subscribed())
                if following is not None:
                    following.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        data = message["data"]
                        text = data.decode() if isinstance(data, bytes) else str(data)
                        await _maybe_await(on_message(text))
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError) as exc:
            log.warning(
                "change feed lost; subscribing again",
                extra={"channel": channel, "error": repr(exc)},
            )
            if following is not None:
                following.clear()
            await asyncio.sleep(RESUBSCRIBE_SECONDS)


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if result is not None:
        await result
