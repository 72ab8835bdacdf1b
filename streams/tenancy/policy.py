"""Per-tenant delivery policy (``herald policy set``): failover between integrations.

:meth:`PolicyStore.set` publishes the tenant on :data:`POLICIES_CHANNEL`; the workers'
:class:`CachingPolicyStore` keeps each tenant's policy in process and forgets it when the
tenant is published (:func:`~streams.tenancy.feed.follow_channel`), so a failover decision
reads no Redis.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis

from streams.platform.waiting import ChangeWaiter
from streams.tenancy.feed import follow_channel

__all__ = ["POLICIES_CHANNEL", "CachingPolicyStore", "PolicyStore", "TenantPolicy"]

#: Redis pub/sub channel: a tenant id, after its policy changed.
POLICIES_CHANNEL = "herald:policies:changed"


def _key(tenant_id: str) -> str:
    return f"herald:policy:{{{tenant_id}}}"


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    #: On a retryable failure, try the tenant's next active integration for the channel
    #: (in priority order) at once, before backing off.
    failover: bool = False


class PolicyStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get(self, tenant_id: str) -> TenantPolicy:
        raw = await self._redis.hget(_key(tenant_id), "failover")
        return TenantPolicy(failover=raw in (b"1", "1"))

    async def set(self, tenant_id: str, policy: TenantPolicy) -> None:
        await self._redis.hset(_key(tenant_id), "failover", "1" if policy.failover else "0")
        await self._redis.publish(POLICIES_CHANNEL, tenant_id)


class CachingPolicyStore(PolicyStore, ChangeWaiter):
    """Policies held in process; a published change forgets the tenant's (see the module)."""

    def __init__(self, redis: Redis) -> None:
        PolicyStore.__init__(self, redis)
        ChangeWaiter.__init__(self)
        self._held: dict[str, TenantPolicy] = {}
        #: Set while subscribed to :data:`POLICIES_CHANNEL` (:meth:`follow_changes`).
        self.following = asyncio.Event()

    async def get(self, tenant_id: str) -> TenantPolicy:
        policy = self._held.get(tenant_id)
        if policy is None:
            policy = self._held[tenant_id] = await super().get(tenant_id)
        return policy

    async def set(self, tenant_id: str, policy: TenantPolicy) -> None:
        self._held.pop(tenant_id, None)
        await super().set(tenant_id, policy)

    async def follow_changes(self) -> None:
        await follow_channel(
            self._redis,
            POLICIES_CHANNEL,
            self._forget,
            on_subscribed=self._held.clear,  # changes may have been missed while away
            following=self.following,
        )

    def _forget(self, tenant_id: str) -> None:
        self._held.pop(tenant_id, None)
        self._notify()

    async def wait_forgotten(self, tenant_id: str) -> None:
        """Return once ``tenant_id``'s policy is not held (tests; bound it with a timeout)."""
        await self.wait_for(lambda store: tenant_id not in store._held)
