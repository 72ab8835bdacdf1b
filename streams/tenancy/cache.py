"""A read-through cache of integrations for the hot path.

Resolving a provider reads a tenant's integrations and decrypts credentials for every
request; both change rarely. :class:`CachingIntegrationStore` keeps the answers in the
process: no Redis read and no AES-GCM decrypt per request. Invalidation is explicit:
every write (:class:`~streams.tenancy.integrations.IntegrationStore`, so ``herald
integrations`` too) publishes the tenant on :data:`CHANGES_CHANNEL`, and
:meth:`CachingIntegrationStore.follow_changes` forgets that tenant's entries (all
entries after a reconnect, since messages may have been missed). Entries also expire
after ``HERALD_INTEGRATION_CACHE_SECONDS``, a backstop should a message be lost.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from redis.asyncio import Redis

from schemas import BaseCredentials, Channel, IntegrationSummary
from streams.platform.waiting import ChangeWaiter
from streams.tenancy.crypto import Cipher
from streams.tenancy.feed import follow_channel
from streams.tenancy.integrations import CHANGES_CHANNEL, IntegrationStore

__all__ = ["CachingIntegrationStore"]

log = logging.getLogger(__name__)

_MISSING = object()
_V = TypeVar("_V")


class CachingIntegrationStore(IntegrationStore, ChangeWaiter):
    def __init__(
        self, redis: Redis, cipher: Cipher | None, *, ttl: float, max_entries: int = 10_000
    ) -> None:
        IntegrationStore.__init__(self, redis, cipher)
        ChangeWaiter.__init__(self)
        self._ttl = ttl
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, ...], tuple[float, Any]] = OrderedDict()
        #: Set while subscribed to the change feed (:meth:`follow_changes`).
        self.following = asyncio.Event()

    def _get(self, key: tuple[str, ...]) -> Any:
        hit = self._entries.get(key)
        if hit is None or hit[0] < time.monotonic():
            return _MISSING
        self._entries.move_to_end(key)
        return hit[1]

    def _put(self, key: tuple[str, ...], value: Any) -> None:
        self._entries[key] = (time.monotonic() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def _through(self, key: tuple[str, ...], load: Callable[[], Awaitable[_V]]) -> _V:
        """The cached value of ``key``, else ``load()``'s (then cached)."""
        value = self._get(key)
        if value is _MISSING:
            value = await load()
            self._put(key, value)
        return value  # type: ignore[no-any-return]

    def cached(self, tenant_id: str) -> bool:
        return any(key[1] == tenant_id for key in self._entries)

    async def wait_forgotten(self, tenant_id: str) -> None:
        """Return once nothing of ``tenant_id`` is cached (tests; bound it with a timeout)."""
        await self.wait_for(lambda cache: not cache.cached(tenant_id))

    def _forget(self, tenant_id: str) -> None:
        for key in [k for k in self._entries if k[1] == tenant_id]:
            del self._entries[key]

    async def follow_changes(self) -> None:
        """Forget a tenant's entries whenever any process changes its integrations."""
        await follow_channel(
            self._redis,
            CHANGES_CHANNEL,
            self._changed_tenant,
            on_subscribed=self._entries.clear,  # changes may have been missed while away
            following=self.following,
        )

    def _changed_tenant(self, tenant_id: str) -> None:
        self._forget(tenant_id)
        self._notify()

    async def get(self, tenant_id: str, provider: str) -> IntegrationSummary | None:
        return await self._through(
            ("get", tenant_id, provider), partial(super().get, tenant_id, provider)
        )

    async def instances(self, tenant_id: str, provider: str) -> builtins.list[IntegrationSummary]:
        return list(
            await self._through(
                ("instances", tenant_id, provider), partial(super().instances, tenant_id, provider)
            )
        )

    async def for_channel(
        self, tenant_id: str, channel: Channel | str
    ) -> builtins.list[IntegrationSummary]:
        return list(
            await self._through(
                ("channel", tenant_id, str(channel)),
                partial(super().for_channel, tenant_id, channel),
            )
        )

    async def credentials(self, tenant_id: str, provider: str) -> BaseCredentials | None:
        return await self._through(
            ("credentials", tenant_id, provider), partial(super().credentials, tenant_id, provider)
        )

    async def set(
        self, tenant_id: str, provider: str, *args: Any, **kwargs: Any
    ) -> IntegrationSummary:
        self._forget(tenant_id)
        return await super().set(tenant_id, provider, *args, **kwargs)

    async def remove(self, tenant_id: str, provider: str, instance: str | None = None) -> bool:
        self._forget(tenant_id)
        return await super().remove(tenant_id, provider, instance)
