"""Session state in Redis, readable by every worker.

``wppconnect:pairing:{tenantId}:{requestId}``: the owning worker's answer to one
pairing-code request (link by phone number), encrypted, for two minutes, read once.
``wppconnect:qr:{tenantId}`` (the seed's key): the current QR JSON, AES-GCM encrypted
under ``HERALD_SECRET_KEY`` and bound to the tenant (whoever reads a QR first can link the
tenant's number to their phone), living no longer than the QR code itself; without a
cipher nothing is stored. ``wppconnect:session:{tenantId}``: a hash written by the owning worker -- status
and since when, connection state and since when, the phone once logged in, which
worker holds the session, its browser's memory and its archived token's size.

Each takes a session id (``naming.py``): the tenant id for a tenant's first session (the
seed's keys, unchanged), ``{tenantId}@{sessionName}`` for its further sessions.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import orjson
from redis.asyncio import Redis

from schemas.status import utcnow
from schemas.whatsapp import QrCode
from streams.tenancy.crypto import Cipher, CryptoError
from streams.whatsapp.naming import tenant_of

__all__ = ["LOGGED_IN", "SessionStore", "pairing_key", "qr_key", "qr_ref", "session_key"]

log = logging.getLogger(__name__)

#: Statuses during which the session is logged in (its phone is shown).
LOGGED_IN = frozenset({"isLogged", "qrReadSuccess", "inChat"})


def qr_key(tenant_id: str) -> str:
    return f"wppconnect:qr:{tenant_id}"


def session_key(tenant_id: str) -> str:
    return f"wppconnect:session:{tenant_id}"


def pairing_key(tenant_id: str, request_id: str) -> str:
    """The answer to one pairing-code request, left by the owning worker for the endpoint."""
    return f"wppconnect:pairing:{tenant_id}:{request_id}"


def qr_ref(url_code: str) -> str:
    """A digest naming one QR code without revealing it (``qrRef`` in events and answers)."""
    return hashlib.sha256(url_code.encode()).hexdigest()[:16]


def _qr_aad(tenant_id: str) -> bytes:
    return f"wppconnect-qr:{tenant_id}".encode()


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SessionStore:
    def __init__(self, redis: Redis, owner: str = "", cipher: Cipher | None = None) -> None:
        self._redis = redis
        self.owner = owner
        self._cipher = cipher

    async def put_qr(self, tenant_id: str, qr: QrCode, ttl_ms: int) -> None:
        """Store the QR, encrypted, until it expires (at most ``ttl_ms``)."""
        if self._cipher is None:
            log.warning(
                "HERALD_SECRET_KEY is not set: the QR code is not stored for the endpoint",
                extra={"tenant_id": tenant_id},
            )
            return
        left_ms = int((qr.expires_at - utcnow()).total_seconds() * 1000)
        token = self._cipher.encrypt(qr.to_json(), _qr_aad(tenant_id))
        await self._redis.set(qr_key(tenant_id), token, px=max(min(ttl_ms, left_ms), 1000))

    async def clear_qr(self, tenant_id: str) -> None:
        await self._redis.delete(qr_key(tenant_id))

    async def get_qr(self, tenant_id: str) -> dict[str, Any] | None:
        raw = await self._redis.get(qr_key(tenant_id))
        if raw is None or self._cipher is None:
            return None
        try:
            data: dict[str, Any] = orjson.loads(self._cipher.decrypt(_s(raw), _qr_aad(tenant_id)))
        except (CryptoError, orjson.JSONDecodeError):
            log.warning("stored QR code unreadable", extra={"tenant_id": tenant_id})
            return None
        if isinstance(data.get("urlCode"), str):
            data["qrRef"] = qr_ref(data["urlCode"])
        return data

    async def put_link_result(
        self, tenant_id: str, request_id: str, result: dict[str, Any], ttl_ms: int = 120_000
    ) -> None:
        """Leave the answer to a pairing-code request (encrypted when there is a key)."""
        raw = orjson.dumps(result)
        aad = pairing_key(tenant_id, request_id).encode()
        value = self._cipher.encrypt(raw, aad) if self._cipher is not None else raw.decode()
        await self._redis.set(pairing_key(tenant_id, request_id), value, px=ttl_ms)

    async def take_link_result(self, tenant_id: str, request_id: str) -> dict[str, Any] | None:
        """The answer to a pairing-code request, once (it is deleted as it is read)."""
        key = pairing_key(tenant_id, request_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(key)
            pipe.delete(key)
            raw, _ = await pipe.execute()
        if raw is None:
            return None
        try:
            text = _s(raw)
            data = orjson.loads(
                self._cipher.decrypt(text, key.encode()) if self._cipher is not None else text
            )
        except (CryptoError, orjson.JSONDecodeError):
            log.warning("pairing code answer unreadable", extra={"tenant_id": tenant_id})
            return {"error": {"code": "unreadable", "message": "the answer could not be read"}}
        return data if isinstance(data, dict) else None

    def _entry(
        self, session: str, session_name: str | None, now: str, **fields: Any
    ) -> dict[Any, Any]:
        """``fields`` with what every write of a session's hash carries (``updatedAt``: now)."""
        return {
            "session": session,
            "sessionName": session_name or "",
            **fields,
            "updatedAt": now,
            "owner": self.owner,
        }

    async def record_status(
        self,
        tenant_id: str,
        session: str,
        status: str,
        *,
        detail: str | None = None,
        phone: str | None = None,
        session_name: str | None = None,
    ) -> None:
        now = utcnow().isoformat()
        mapping = self._entry(
            session, session_name, now, status=status, since=now, detail=detail or ""
        )
        if phone:
            mapping["phone"] = phone
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(session_key(tenant_id), mapping=mapping)
            if status not in LOGGED_IN:
                pipe.hdel(session_key(tenant_id), "phone")
            await pipe.execute()

    async def record_state(
        self,
        tenant_id: str,
        session: str,
        state: str,
        *,
        detail: str | None = None,
        session_name: str | None = None,
    ) -> None:
        now = utcnow().isoformat()
        mapping = self._entry(session, session_name, now, state=state, stateSince=now)
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

    async def forget(self, tenant_id: str) -> None:
        """Delete the tenant's session keys (its integration was removed)."""
        await self._redis.delete(session_key(tenant_id))
        await self._redis.delete(qr_key(tenant_id))  # one key per command: cluster slots

    async def get_session(self, tenant_id: str) -> dict[str, Any] | None:
        raw = await self._redis.hgetall(session_key(tenant_id))
        if not raw:
            return None
        data = {_s(k): _s(v) for k, v in raw.items()}
        status = data.get("status")
        view: dict[str, Any] = {
            "tenantId": tenant_of(tenant_id),
            "session": data.get("session"),
            "sessionName": data.get("sessionName") or None,
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
