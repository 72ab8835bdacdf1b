"""Per-tenant API keys for Herald's HTTP endpoints (session endpoints, inbox).

A key is shown once, when created (``herald apikeys create --tenant T``); Redis keeps
only its SHA-256 (keys are 256-bit random, so a plain hash is the right tool, as for
GitHub tokens). A request proves it may act for tenant T with ``Authorization: Bearer
<key>`` (or ``X-Api-Key``): no, unknown or expired key -> 401, a key of another tenant
or without the endpoint's scope -> 403.

Scopes: ``session`` (read the QR and the session, disconnect) and ``inbox`` (the in-app
inbox). A key may carry an expiry; Redis then drops the key's record at that instant
too. Keys created before scopes existed carry none in their record and keep every
scope (what they could do before); ``herald apikeys list`` shows them as ``*``.

The tenant's hash ``herald:apikeys:{tenantId}`` is authoritative (a key is valid for T
when its hash is a field there, with its record); ``herald:apikey:<hash>`` only tells a
key of another tenant (403) from an unknown one (401). The two live in different cluster
slots, so they are written one after the other, in the order that fails safe: created in
the tenant's hash first, revoked from it first.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import orjson
from redis.asyncio import Redis

from schemas._base import is_tenant_id
from schemas.errors import HeraldError
from schemas.status import utcnow

__all__ = [
    "ALL_SCOPES",
    "KEY_PREFIX",
    "ApiKeyInfo",
    "AuthResult",
    "InvalidApiKeyRequest",
    "Scope",
    "TenantKeys",
    "bearer_key",
]

KEY_PREFIX = "hrk_"
#: A key id is the first characters of the key's SHA-256 (hex): safe to show.
KEY_ID_LENGTH = 12
_KEY_ID = re.compile(r"[0-9a-f]{12}|[0-9a-f]{64}")


class Scope(StrEnum):
    SESSION = "session"  # GET qr, session, events; POST connect, disconnect, logout, pairing-code
    INBOX = "inbox"  # the in-app inbox endpoints


ALL_SCOPES = frozenset(Scope)


class InvalidApiKeyRequest(HeraldError):
    """A create/revoke call with an unusable tenant, key id, scope or expiry."""


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
    scopes: frozenset[Scope] = ALL_SCOPES
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


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


def _scopes(raw: object) -> frozenset[Scope]:
    if raw is None:  # a key created before scopes existed
        return ALL_SCOPES
    if not isinstance(raw, list):
        return frozenset()
    known = {s.value for s in Scope}
    return frozenset(Scope(s) for s in raw if s in known)


def _info(digest: str, tenant_id: str, data: Mapping[str, object]) -> ApiKeyInfo:
    expires = data.get("expiresAt")
    return ApiKeyInfo(
        key_id=digest[:KEY_ID_LENGTH],
        tenant_id=tenant_id,
        name=str(data.get("name", "")),
        created_at=datetime.fromisoformat(str(data["createdAt"])),
        scopes=_scopes(data.get("scopes")),
        expires_at=datetime.fromisoformat(expires) if isinstance(expires, str) else None,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class TenantKeys:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def create(
        self,
        tenant_id: str,
        name: str = "default",
        *,
        scopes: Iterable[Scope | str] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, ApiKeyInfo]:
        """A new key for ``tenant_id`` with ``scopes`` (default: all) until ``expires_at``."""
        if not is_tenant_id(tenant_id):
            raise InvalidApiKeyRequest(f"invalid tenant id {tenant_id!r}")
        try:
            granted = ALL_SCOPES if scopes is None else frozenset(Scope(s) for s in scopes)
        except ValueError as exc:
            names = ", ".join(s.value for s in Scope)
            raise InvalidApiKeyRequest(f"unknown scope; scopes are {names}") from exc
        if not granted:
            raise InvalidApiKeyRequest("a key needs at least one scope")
        now = utcnow()
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidApiKeyRequest("the expiry needs a time zone")
            if expires_at <= now:
                raise InvalidApiKeyRequest("the expiry is in the past")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        digest = _hash(key)
        info = ApiKeyInfo(
            key_id=digest[:KEY_ID_LENGTH],
            tenant_id=tenant_id,
            name=name,
            created_at=now,
            scopes=granted,
            expires_at=expires_at,
        )
        fields: dict[str, object] = {
            "tenantId": tenant_id,
            "name": name,
            "createdAt": now.isoformat(),
            "scopes": sorted(s.value for s in granted),
        }
        if expires_at is not None:
            fields["expiresAt"] = expires_at.isoformat()
        record = orjson.dumps(fields)
        await self._redis.hset(_of_tenant(tenant_id), digest, record)  # authoritative, first
        async with self._redis.pipeline(transaction=True) as pipe:  # one key: one slot
            pipe.set(_by_hash(digest), record)
            if expires_at is not None:
                pipe.pexpireat(_by_hash(digest), expires_at)
            await pipe.execute()
        return key, info

    async def list(self, tenant_id: str) -> list[ApiKeyInfo]:
        rows = await self._redis.hgetall(_of_tenant(tenant_id))
        out = [_info(_text(d), tenant_id, orjson.loads(raw)) for d, raw in rows.items()]
        return sorted(out, key=lambda i: i.created_at)

    async def revoke(self, tenant_id: str, key_id: str) -> bool:
        """Revoke the key whose id (12 hex characters, or the full hash) is ``key_id``.

        Anything else (an empty or partial id, another spelling) is refused: a prefix
        match would let ``--key-id ''`` revoke whichever key came first.
        """
        if not _KEY_ID.fullmatch(key_id):
            raise InvalidApiKeyRequest(
                f"a key id is {KEY_ID_LENGTH} lowercase hex characters (see `apikeys list`)"
            )
        rows = [_text(d) for d in await self._redis.hkeys(_of_tenant(tenant_id))]
        matches = [d for d in rows if d == key_id or d[:KEY_ID_LENGTH] == key_id]
        if len(matches) > 1:
            raise InvalidApiKeyRequest(f"key id {key_id!r} is ambiguous; give the full hash")
        if not matches:
            return False
        await self._redis.hdel(_of_tenant(tenant_id), matches[0])  # invalid from here on
        await self._redis.delete(_by_hash(matches[0]))
        return True

    async def authorize(self, tenant_id: str, key: str | None, scope: Scope) -> AuthResult:
        """May ``key`` act for ``tenant_id`` on an endpoint of ``scope``?"""
        if not key:
            return AuthResult(401, "missing API key")
        digest = _hash(key)
        own = await self._redis.hget(_of_tenant(tenant_id), digest)  # authoritative
        if own is None:
            raw = await self._redis.get(_by_hash(digest))
            if raw is None:
                return AuthResult(401, "unknown API key")
            owner = str(orjson.loads(raw)["tenantId"])
            if not hmac.compare_digest(owner.encode(), tenant_id.encode()):
                return AuthResult(403, "this key belongs to another tenant")
            return AuthResult(401, "revoked API key")
        info = _info(digest, tenant_id, orjson.loads(own))
        if info.expired(utcnow()):
            return AuthResult(401, "expired API key")
        if scope not in info.scopes:
            return AuthResult(403, f"this key lacks the {scope.value!r} scope")
        return AuthResult(200)
