"""A read-through cache of integrations for the hot path.

Resolving a provider reads a tenant's integrations and decrypts credentials for every
request; both change rarely. :class:`CachingIntegrationStore` keeps the answers for
``HERALD_INTEGRATION_CACHE_SECONDS`` (5 s by default): a change made with
``herald integrations`` reaches running workers within that time. Writes through this
store clear its own entries for the tenant at once.
"""

from __future__ import annotations

import builtins
import time
from collections import OrderedDict
from typing import Any

from redis.asyncio import Redis

from schemas import BaseCredentials, Channel, IntegrationSummary
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore

__all__ = ["CachingIntegrationStore"]

_MISSING = object()


class CachingIntegrationStore(IntegrationStore):
    def __init__(
        self, redis: Redis, cipher: Cipher | None, *, ttl: float, max_entries: int = 10_000
    ) -> None:
        super().__init__(redis, cipher)
        self._ttl = ttl
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, ...], tuple[float, Any]] = OrderedDict()

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

    def _forget(self, tenant_id: str) -> None:
        for key in [k for k in self._entries if k[1] == tenant_id]:
            del self._entries[key]

    async def get(self, tenant_id: str, provider: str) -> IntegrationSummary | None:
        key = ("get", tenant_id, provider)
        value = self._get(key)
        if value is _MISSING:
            value = await super().get(tenant_id, provider)
            self._put(key, value)
        return value  # type: ignore[no-any-return]

    async def for_channel(
        self, tenant_id: str, channel: Channel | str
    ) -> builtins.list[IntegrationSummary]:
        key = ("channel", tenant_id, str(channel))
        value = self._get(key)
        if value is _MISSING:
            value = await super().for_channel(tenant_id, channel)
            self._put(key, value)
        return list(value)

    async def credentials(self, tenant_id: str, provider: str) -> BaseCredentials | None:
        key = ("credentials", tenant_id, provider)
        value = self._get(key)
        if value is _MISSING:
            value = await super().credentials(tenant_id, provider)
            self._put(key, value)
        return value  # type: ignore[no-any-return]

    async def set(
        self, tenant_id: str, provider: str, *args: Any, **kwargs: Any
    ) -> IntegrationSummary:
        self._forget(tenant_id)
        return await super().set(tenant_id, provider, *args, **kwargs)

    async def remove(self, tenant_id: str, provider: str) -> bool:
        self._forget(tenant_id)
        return await super().remove(tenant_id, provider)
