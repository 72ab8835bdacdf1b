"""The seed's session endpoints, as plain async code (the Faust views only adapt HTTP).

* ``GET /webhooks/wppconnect/qr/{tenantId}``: the current QR JSON (404 if none);
  rate limited per tenant (429 with Retry-After).
* ``GET /webhooks/wppconnect/session/{tenantId}``: status, state, since when, phone.
* ``POST /webhooks/wppconnect/session/{tenantId}/connect``, ``.../disconnect``,
  ``.../logout``: 202; the command goes to ``whatsapp.commands`` keyed by tenant, so the
  worker owning the session runs it.
* ``GET /webhooks/wppconnect/session/{tenantId}/events``: server-sent events
  (:mod:`streams.whatsapp.live`).

Any worker answers: reads come from Redis, commands go through Kafka. Every call must
carry an API key of that tenant with the ``session`` scope (``herald apikeys create``):
401 without, unknown or expired, 403 for another tenant's key or one without the scope.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from schemas._base import is_tenant_id
from schemas.whatsapp import CommandName, SessionCommand
from streams.pipeline.ratelimit import TokenBucket
from streams.tenancy.auth import Scope, TenantKeys, bearer_key
from streams.webhooks import WebhookResponse
from streams.whatsapp.store import SessionStore

__all__ = ["QR_BURST", "SessionEndpoints", "json_answer"]

#: QR reads a tenant may make at once before the per-minute rate applies.
QR_BURST = 5

CommandProducer = Callable[[SessionCommand], Awaitable[None]]


def json_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> WebhookResponse:
    return WebhookResponse(
        status, orjson.dumps(body).decode(), "application/json", headers=headers or {}
    )


@dataclass
class SessionEndpoints:
    keys: TenantKeys
    bucket: TokenBucket
    store: SessionStore
    commands: CommandProducer
    qr_reads_per_minute: float = 30.0

    async def authorize(self, tenant_id: str, headers: Mapping[str, str]) -> WebhookResponse | None:
        """``None`` if the request carries a ``session`` key of ``tenant_id``, else the answer."""
        if not is_tenant_id(tenant_id):
            return json_answer(400, {"error": "invalid tenant id"})
        result = await self.keys.authorize(tenant_id, bearer_key(headers), Scope.SESSION)
        if result.ok:
            return None
        extra = {"WWW-Authenticate": 'Bearer realm="herald"'} if result.status == 401 else None
        return json_answer(result.status, {"error": result.reason}, extra)

    async def qr(self, tenant_id: str, headers: Mapping[str, str]) -> WebhookResponse:
        denied = await self.authorize(tenant_id, headers)
        if denied is not None:
            return denied
        limited = await self.take_qr_read(tenant_id)
        if limited is not None:
            return limited
        qr = await self.store.get_qr(tenant_id)
        if qr is None:
            return json_answer(404, {"error": "no QR code for this tenant"})
        return json_answer(200, qr, {"Cache-Control": "no-store"})

    async def take_qr_read(self, tenant_id: str) -> WebhookResponse | None:
        """Spend one of the tenant's QR reads: ``None``, or 429 with ``Retry-After``."""
        wait = await self.bucket.take(
            f"wppconnect-qr:{tenant_id}", rate=self.qr_reads_per_minute / 60.0, burst=QR_BURST
        )
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            return json_answer(429, {"error": "too many QR reads"}, {"Retry-After": retry_after})
        return None

    async def session(self, tenant_id: str, headers: Mapping[str, str]) -> WebhookResponse:
        denied = await self.authorize(tenant_id, headers)
        if denied is not None:
            return denied
        view = await self.store.get_session(tenant_id)
        if view is None:
            return json_answer(404, {"error": "no session for this tenant"})
        return json_answer(200, view, {"Cache-Control": "no-store"})

    async def command(
        self, tenant_id: str, command: CommandName, headers: Mapping[str, str]
    ) -> WebhookResponse:
        denied = await self.authorize(tenant_id, headers)
        if denied is not None:
            return denied
        await self.commands(SessionCommand(tenant_id=tenant_id, command=command))
        return json_answer(202, {"tenantId": tenant_id, "command": command.value, "accepted": True})
