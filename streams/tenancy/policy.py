"""Per-tenant delivery policy (``herald policy set``): failover between integrations."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

__all__ = ["PolicyStore", "TenantPolicy"]


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
