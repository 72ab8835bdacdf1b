"""The seed's session endpoints, as plain async code (the Faust views only adapt HTTP).

* ``GET /webhooks/wppconnect/qr/{tenantId}``: the current QR JSON (404 if none);
  rate limited per tenant (429 with Retry-After).
* ``GET /webhooks/wppconnect/session/{tenantId}``: status, state, since when, phone.
* ``POST /webhooks/wppconnect/session/{tenantId}/disconnect``: 202; the command goes
  to ``whatsapp.commands`` keyed by tenant, so the worker owning the session runs it.

Which session: the optional query parameter ``session`` (a ``sessionName``) picks one of
the tenant's sessions; without it, the tenant's default session (the one a request
without ``sender`` uses; ``selection.py``). An unknown name is 404 ``unknown_session``.
:meth:`SessionEndpoints.locate` does the authorization and the selection in one call:
every session endpoint (and any added later) goes through it.

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
from schemas.errors import Rejection
from schemas.whatsapp import CommandName, SessionCommand
from streams.pipeline.ratelimit import TokenBucket
from streams.tenancy.auth import Scope, TenantKeys, bearer_key
from streams.webhooks import WebhookResponse
from streams.whatsapp.naming import SessionRef
from streams.whatsapp.store import SessionStore

__all__ = ["QR_BURST", "SessionEndpoints", "SessionSelector"]

#: QR reads a tenant may make at once before the per-minute rate applies.
QR_BURST = 5

CommandProducer = Callable[[SessionCommand], Awaitable[None]]
#: ``(tenant id, sessionName or None) -> the session``; raises :class:`Rejection`.
SessionSelector = Callable[[str, str | None], Awaitable[SessionRef]]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> WebhookResponse:
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
    #: Finds a tenant's sessions (``selection.select_session``); ``None``: the tenant's
    #: first session only (no ``session`` parameter accepted).
    select: SessionSelector | None = None

    async def _authorize(
        self, tenant_id: str, headers: Mapping[str, str]
    ) -> WebhookResponse | None:
        if not is_tenant_id(tenant_id):
            return _json(400, {"error": "invalid tenant id"})
        result = await self.keys.authorize(tenant_id, bearer_key(headers), Scope.SESSION)
        if result.ok:
            return None
        extra = {"WWW-Authenticate": 'Bearer realm="herald"'} if result.status == 401 else None
        return _json(result.status, {"error": result.reason}, extra)

    async def _select(self, tenant_id: str, session: str | None) -> SessionRef | None:
        if self.select is not None:
            try:
                return await self.select(tenant_id, session)
            except Rejection:
                if session is not None:
                    return None
        elif session is not None:
            return None
        # No integration to choose from: the tenant's first session (the seed's keys).
        return SessionRef(tenant_id=tenant_id, session_name=None, sid=tenant_id)

    async def locate(
        self, tenant_id: str, headers: Mapping[str, str], session: str | None = None
    ) -> SessionRef | WebhookResponse:
        """Authorize the caller for ``tenant_id`` and find the session it names.

        The session, or the answer to give instead (400, 401, 403, 404 ``unknown_session``).
        """
        denied = await self._authorize(tenant_id, headers)
        if denied is not None:
            return denied
        if session is not None and not session.strip():
            session = None
        ref = await self._select(tenant_id, session)
        if ref is None:
            return _json(404, {"error": f"no session named {session!r}", "code": "unknown_session"})
        return ref

    async def qr(
        self, tenant_id: str, headers: Mapping[str, str], session: str | None = None
    ) -> WebhookResponse:
        ref = await self.locate(tenant_id, headers, session)
        if isinstance(ref, WebhookResponse):
            return ref
        wait = await self.bucket.take(
            f"wppconnect-qr:{tenant_id}", rate=self.qr_reads_per_minute / 60.0, burst=QR_BURST
        )
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            return _json(429, {"error": "too many QR reads"}, {"Retry-After": retry_after})
        qr = await self.store.get_qr(ref.sid)
        if qr is None:
            return _json(404, {"error": "no QR code for this tenant"})
        return _json(200, qr, {"Cache-Control": "no-store"})

    async def session(
        self, tenant_id: str, headers: Mapping[str, str], session: str | None = None
    ) -> WebhookResponse:
        ref = await self.locate(tenant_id, headers, session)
        if isinstance(ref, WebhookResponse):
            return ref
        view = await self.store.get_session(ref.sid)
        if view is None:
            return _json(404, {"error": "no session for this tenant"})
        return _json(200, view, {"Cache-Control": "no-store"})

    async def command(
        self,
        tenant_id: str,
        command: CommandName,
        headers: Mapping[str, str],
        session: str | None = None,
    ) -> WebhookResponse:
        ref = await self.locate(tenant_id, headers, session)
        if isinstance(ref, WebhookResponse):
            return ref
        name = session.strip() if session and session.strip() else None
        await self.commands(SessionCommand(tenant_id=tenant_id, command=command, session_name=name))
        body = {"tenantId": tenant_id, "command": command.value, "accepted": True}
        if ref.session_name is not None:
            body["sessionName"] = ref.session_name
        return _json(202, body)
