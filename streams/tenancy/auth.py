"""Per-tenant API keys for Herald's HTTP endpoints (session endpoints, inbox).

A key is shown once, when created (``herald apikeys create --tenant T``); Redis keeps
only its SHA-256 (keys are 256-bit random, so a plain hash is the right tool, as for
GitHub tokens). A request proves it may act for tenant T with ``Authorization: Bearer
<key>`` (or ``X-Api-Key``): no or unknown key -> 401, a key of another tenant -> 403.

The tenant's hash ``herald:apikeys:{tenantId}`` is authoritative (a key is valid for T
when its hash is a field there); ``herald:apikey:<hash>`` only tells a key of another
tenant (403) from an unknown one (401). The two live in different cluster slots, so they
are written one after the other, in the order that fails safe: created in the tenant's
hash first, revoked from it first.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import orjson
from redis.asyncio import Redis

from schemas.status import utcnow

__all__ = ["KEY_PREFIX", "ApiKeyInfo", "AuthResult", "TenantKeys", "bearer_key"]

KEY_PREFIX = "hrk_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _by_hash(digest: str) -> str:
    return f"herald:apikey:{digest}"


def _of_tenant(tenant_id: str) -> str:
    return f"herald:apikeys:{{{tenant_id}}}"


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    key_id: str  # first characters of the hash: safe to show, enough to revoke
    tenant_id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuthResult:
    status: int  # 200, 401 or 403
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


def bearer_key(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("Authorization") or headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return headers.get("X-Api-Key") or headers.get("x-api-key") or None


class TenantKeys:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def create(self, tenant_id: str, name: str = "default") -> tuple[str, ApiKeyInfo]:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        digest = _hash(key)
        info = ApiKeyInfo(key_id=digest[:12], tenant_id=tenant_id, name=name, created_at=utcnow())
        record = orjson.dumps(
            {"tenantId": tenant_id, "name": name, "createdAt": info.created_at.isoformat()}
        )
        await self._redis.hset(_of_tenant(tenant_id), digest, record)
        await self._redis.set(_by_hash(digest), record)
        return key, info

    async def list(self, tenant_id: str) -> list[ApiKeyInfo]:
        rows = await self._redis.hgetall(_of_tenant(tenant_id))
        out = []
        for digest, raw in rows.items():
            data = orjson.loads(raw)
            d = digest.decode() if isinstance(digest, bytes) else str(digest)
            out.append(
                ApiKeyInfo(
                    key_id=d[:12],
                    tenant_id=tenant_id,
                    name=data["name"],
                    created_at=datetime.fromisoformat(data["createdAt"]),
                )
            )
        return sorted(out, key=lambda i: i.created_at)

    async def revoke(self, tenant_id: str, key_id: str) -> bool:
        rows = await self._redis.hkeys(_of_tenant(tenant_id))
        for digest in rows:
            d = digest.decode() if isinstance(digest, bytes) else str(digest)
            if d.startswith(key_id):
                await self._redis.hdel(_of_tenant(tenant_id), d)  # invalid from here on
                await self._redis.delete(_by_hash(d))
                return True
        return False

    async def authorize(self, tenant_id: str, key: str | None) -> AuthResult:
        if not key:
            return AuthResult(401, "missing API key")
        digest = _hash(key)
        if await self._redis.hexists(_of_tenant(tenant_id), digest):
            return AuthResult(200)
        raw = await self._redis.get(_by_hash(digest))
        if raw is None:
            return AuthResult(401, "unknown API key")
        owner = str(orjson.loads(raw)["tenantId"])
        if not hmac.compare_digest(owner.encode(), tenant_id.encode()):
            return AuthResult(403, "this key belongs to another tenant")
        return AuthResult(401, "revoked API key")
