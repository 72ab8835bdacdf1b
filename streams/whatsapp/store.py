"""Session state in Redis, readable by every worker.

``wppconnect:qr:{tenantId}`` (the seed's key): the current QR JSON, with the QR code's
TTL. ``wppconnect:session:{tenantId}``: a hash written by the owning worker -- status
and since when, connection state and since when, the phone once logged in, which
worker holds the session, its browser's memory and its archived token's size.
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from schemas.status import utcnow
from schemas.whatsapp import QrCode

__all__ = ["LOGGED_IN", "SessionStore", "qr_key", "session_key"]

#: Statuses during which the session is logged in (its phone is shown).
LOGGED_IN = frozenset({"isLogged", "qrReadSuccess", "inChat"})


def qr_key(tenant_id: str) -> str:
    return f"wppconnect:qr:{tenant_id}"


def session_key(tenant_id: str) -> str:
    return f"wppconnect:session:{tenant_id}"


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SessionStore:
    def __init__(self, redis: Redis, owner: str = "") -> None:
        self._redis = redis
        self.owner = owner

    async def put_qr(self, tenant_id: str, qr: QrCode, ttl_ms: int) -> None:
        await self._redis.set(qr_key(tenant_id), qr.to_json(), px=max(ttl_ms, 1000))

    async def clear_qr(self, tenant_id: str) -> None:
        await self._redis.delete(qr_key(tenant_id))

    async def get_qr(self, tenant_id: str) -> dict[str, Any] | None:
        raw = await self._redis.get(qr_key(tenant_id))
        if raw is None:
            return None
        data: dict[str, Any] = orjson.loads(raw)
        return data

    async def record_status(
        self,
        tenant_id: str,
        session: str,
        status: str,
        *,
        detail: str | None = None,
        phone: str | None = None,
    ) -> None:
        now = utcnow().isoformat()
        mapping: dict[Any, Any] = {
            "session": session,
            "status": status,
            "since": now,
            "updatedAt": now,
            "detail": detail or "",
            "owner": self.owner,
        }
        if phone:
            mapping["phone"] = phone
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(session_key(tenant_id), mapping=mapping)
            if status not in LOGGED_IN:
                pipe.hdel(session_key(tenant_id), "phone")
            await pipe.execute()

    async def record_state(
        self, tenant_id: str, session: str, state: str, *, detail: str | None = None
    ) -> None:
        now = utcnow().isoformat()
        mapping: dict[Any, Any] = {
            "session": session,
            "state": state,
            "stateSince": now,
            "updatedAt": now,
            "owner": self.owner,
        }
        if detail:
            mapping["detail"] = detail
        await self._redis.hset(session_key(tenant_id), mapping=mapping)

    async def record_usage(
        self, tenant_id: str, *, memory_bytes: int | None = None, token_bytes: int | None = None
    ) -> None:
        """What the session costs: its browser's memory, its archived token's size."""
        mapping: dict[Any, Any] = {}
        if memory_bytes is not None:
            mapping["memoryBytes"] = memory_bytes
        if token_bytes is not None:
            mapping["tokenBytes"] = token_bytes
        if mapping:
            await self._redis.hset(session_key(tenant_id), mapping=mapping)

    async def get_session(self, tenant_id: str) -> dict[str, Any] | None:
        raw = await self._redis.hgetall(session_key(tenant_id))
        if not raw:
            return None
        data = {_s(k): _s(v) for k, v in raw.items()}
        status = data.get("status")
        view: dict[str, Any] = {
            "tenantId": tenant_id,
            "session": data.get("session"),
            "status": status,
            "since": data.get("since"),
            "state": data.get("state"),
            "stateSince": data.get("stateSince"),
            "detail": data.get("detail") or None,
            "updatedAt": data.get("updatedAt"),
        }
        if status in LOGGED_IN and data.get("phone"):
            view["phone"] = data["phone"]
        for name in ("memoryBytes", "tokenBytes"):
            if data.get(name, "").isdigit():
                view[name] = int(data[name])
        return view
