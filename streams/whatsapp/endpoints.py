"""The seed's session endpoints, as plain async code (the Faust views only adapt HTTP).

* ``GET /webhooks/wppconnect/qr/{tenantId}``: the current QR JSON (404 if none);
  rate limited per tenant (429 with Retry-After).
* ``GET /webhooks/wppconnect/session/{tenantId}``: status, state, since when, phone.
* ``POST /webhooks/wppconnect/session/{tenantId}/connect``, ``.../disconnect``,
  ``.../logout``: 202; the command goes to ``whatsapp.commands`` keyed by tenant, so the
  worker owning the session runs it.
* ``GET /webhooks/wppconnect/session/{tenantId}/events``: server-sent events for all the
  tenant's sessions (:mod:`streams.whatsapp.live`; :meth:`SessionEndpoints.sessions`).
* ``POST /webhooks/wppconnect/session/{tenantId}/pairing-code`` ``{"phone": "+55..."}``:
  link by phone number. A ``pairingCode`` command goes to the owning worker, which starts
  the session if needed, asks WhatsApp Web for a code and leaves its answer in Redis;
  this endpoint waits for it: 200 ``{"pairingCode": "ABCD-EFGH", "expiresAt": ...}``.
  Rate limited per tenant (429 with Retry-After).

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

import asyncio
import math
import re
import secrets
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

__all__ = [
    "MAX_PAIRING_BODY",
    "PAIRING_BURST",
    "PAIRING_PER_MINUTE",
    "QR_BURST",
    "SessionEndpoints",
    "SessionLister",
    "SessionSelector",
    "json_answer",
]

#: QR reads a tenant may make at once before the per-minute rate applies.
QR_BURST = 5
#: Pairing-code requests a tenant may make at once, then per minute (WhatsApp itself
#: refuses numbers that ask for many codes).
PAIRING_BURST = 3
PAIRING_PER_MINUTE = 6.0
#: The largest pairing-code request body.
MAX_PAIRING_BODY = 4096
_PHONE = re.compile(r"^[1-9][0-9]{7,14}$")
_PHONE_SPELLING = re.compile(r"^\+?[0-9 ().-]{8,32}$")
#: Answers that are the caller's doing (permanent), by code; any other permanent one: 409.
_PERMANENT_STATUS = {"invalid_phone": 400, "already_linked": 409}

CommandProducer = Callable[[SessionCommand], Awaitable[None]]
#: ``(tenant id, sessionName or None) -> the session``; raises :class:`Rejection`.
SessionSelector = Callable[[str, str | None], Awaitable[SessionRef]]
#: ``tenant id -> every session of the tenant`` (``selection.tenant_sessions``).
SessionLister = Callable[[str], Awaitable[list[SessionRef]]]


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
    #: Finds a tenant's sessions (``selection.select_session``); ``None``: the tenant's
    #: first session only (no ``session`` parameter accepted).
    select: SessionSelector | None = None
    #: Lists a tenant's sessions (the event stream follows them all); ``None``: the
    #: tenant's first session only.
    list_sessions: SessionLister | None = None
    #: Seconds to wait for the owning worker's pairing code (it may start a browser).
    pairing_timeout: float = 75.0

    async def authorize(self, tenant_id: str, headers: Mapping[str, str]) -> WebhookResponse | None:
        """``None`` if the request carries a ``session`` key of ``tenant_id``, else the answer
        (400, 401, 403). It selects no session: :meth:`locate` does both."""
        if not is_tenant_id(tenant_id):
            return json_answer(400, {"error": "invalid tenant id"})
        result = await self.keys.authorize(tenant_id, bearer_key(headers), Scope.SESSION)
        if result.ok:
            return None
        extra = {"WWW-Authenticate": 'Bearer realm="herald"'} if result.status == 401 else None
        return json_answer(result.status, {"error": result.reason}, extra)

    async def _default(self, tenant_id: str) -> SessionRef:
        """The session a request without ``sender`` uses."""
        if self.select is not None:
            try:
                return await self.select(tenant_id, None)
            except Rejection:
                pass
        # No integration to choose from: the tenant's first session (the seed's keys).
        return SessionRef(tenant_id=tenant_id, session_name=None, sid=tenant_id)

    async def _select(self, tenant_id: str, session: str | None) -> SessionRef | None:
        if session is None:
            return await self._default(tenant_id)
        if self.select is not None:
            try:
                return await self.select(tenant_id, session)
            except Rejection:
                pass
        return await self._labelled_default(tenant_id, session)

    async def _labelled_default(self, tenant_id: str, session: str) -> SessionRef | None:
        """A tenant running on the system integration has no names to select, yet its
        session's events carry a ``sessionName`` (the system integration's, or the
        configured default) and a UI names the session by it (the console does): that
        name, as the session stored it, means that session. ``None``: an unknown name."""
        default = await self._default(tenant_id)
        if default.session_name is not None:
            return None  # the tenant's own integrations: their names only
        view = await self.store.get_session(default.sid)
        return default if view is not None and view.get("sessionName") == session else None

    async def locate(
        self, tenant_id: str, headers: Mapping[str, str], session: str | None = None
    ) -> SessionRef | WebhookResponse:
        """Authorize the caller for ``tenant_id`` and find the session it names.

        The session, or the answer to give instead (400, 401, 403, 404 ``unknown_session``).
        """
        denied = await self.authorize(tenant_id, headers)
        if denied is not None:
            return denied
        if session is not None and not session.strip():
            session = None
        ref = await self._select(tenant_id, session)
        if ref is None:
            return json_answer(
                404, {"error": f"no session named {session!r}", "code": "unknown_session"}
            )
        return ref

    async def qr(
        self, tenant_id: str, headers: Mapping[str, str], session: str | None = None
    ) -> WebhookResponse:
        ref = await self.locate(tenant_id, headers, session)
        if isinstance(ref, WebhookResponse):
            return ref
        limited = await self.take_qr_read(tenant_id)
        if limited is not None:
            return limited
        qr = await self.store.get_qr(ref.sid)
        if qr is None:
            return json_answer(404, {"error": "no QR code for this tenant"})
        return json_answer(200, qr, {"Cache-Control": "no-store"})

    async def take_qr_read(self, tenant_id: str) -> WebhookResponse | None:
        """Spend one of the tenant's QR reads (one budget for all its sessions and for the
        event stream): ``None``, or 429 with ``Retry-After``."""
        wait = await self.bucket.take(
            f"wppconnect-qr:{tenant_id}", rate=self.qr_reads_per_minute / 60.0, burst=QR_BURST
        )
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            return json_answer(429, {"error": "too many QR reads"}, {"Retry-After": retry_after})
        return None

    async def sessions(self, tenant_id: str) -> list[SessionRef]:
        """Every session of an (authorized) tenant, its default one first."""
        if self.list_sessions is not None:
            found = await self.list_sessions(tenant_id)
            if found:
                return found
        return [SessionRef(tenant_id=tenant_id, session_name=None, sid=tenant_id)]

    async def session(
        self, tenant_id: str, headers: Mapping[str, str], session: str | None = None
    ) -> WebhookResponse:
        ref = await self.locate(tenant_id, headers, session)
        if isinstance(ref, WebhookResponse):
            return ref
        view = await self.store.get_session(ref.sid)
        if view is None:
            return json_answer(404, {"error": "no session for this tenant"})
        return json_answer(200, view, {"Cache-Control": "no-store"})

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
        name = ref.session_name if session and session.strip() else None
        await self.commands(SessionCommand(tenant_id=tenant_id, command=command, session_name=name))
        body = {"tenantId": tenant_id, "command": command.value, "accepted": True}
        if ref.session_name is not None:
            body["sessionName"] = ref.session_name
        return json_answer(202, body)

    async def pairing_code(
        self,
        tenant_id: str,
        headers: Mapping[str, str],
        body: bytes | None,
        session: str | None = None,
    ) -> WebhookResponse:
        """``body`` ``None``: larger than :data:`MAX_PAIRING_BODY` (413)."""
        ref = await self.locate(tenant_id, headers, session)
        if isinstance(ref, WebhookResponse):
            return ref
        if body is None or len(body) > MAX_PAIRING_BODY:
            return json_answer(413, {"error": f"the body is larger than {MAX_PAIRING_BODY} bytes"})
        phone = _phone(body)
        if phone is None:
            return json_answer(
                400, {"error": 'the body must be {"phone": "+<country><number>"} (8 to 15 digits)'}
            )
        wait = await self.bucket.take(
            f"wppconnect-pairing:{tenant_id}", rate=PAIRING_PER_MINUTE / 60.0, burst=PAIRING_BURST
        )
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            return json_answer(
                429, {"error": "too many pairing codes"}, {"Retry-After": retry_after}
            )
        request_id = secrets.token_urlsafe(16)
        await self.commands(
            SessionCommand(
                tenant_id=tenant_id,
                command=CommandName.PAIRING_CODE,
                session_name=ref.session_name if session and session.strip() else None,
                phone=phone,
                request_id=request_id,
            )
        )
        result = await self._link_result(tenant_id, request_id)
        if result is None:
            return json_answer(504, {"error": "no WhatsApp worker answered in time; try again"})
        error = result.get("error")
        if isinstance(error, dict):
            return _link_error(error)
        answer = {"pairingCode": result.get("pairingCode"), "expiresAt": result.get("expiresAt")}
        return json_answer(200, answer, {"Cache-Control": "no-store"})

    async def _link_result(self, tenant_id: str, request_id: str) -> dict[str, Any] | None:
        """The owning worker's answer, polled (no Redis connection held while waiting)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.pairing_timeout
        delay = 0.05
        while True:
            result = await self.store.take_link_result(tenant_id, request_id)
            if result is not None:
                return result
            left = deadline - loop.time()
            if left <= 0:
                return None
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 0.5)


def _phone(body: bytes) -> str | None:
    """The digits of ``{"phone": ...}``: E.164, spelled with +, spaces, dashes or brackets."""
    try:
        data = orjson.loads(body or b"null")
    except orjson.JSONDecodeError:
        return None
    raw = data.get("phone") if isinstance(data, dict) else None
    if not isinstance(raw, str) or not _PHONE_SPELLING.match(raw.strip()):
        return None
    digits = re.sub(r"\D", "", raw)
    return digits if _PHONE.match(digits) else None


def _link_error(error: dict[str, Any]) -> WebhookResponse:
    code = str(error.get("code") or "error")
    body = {"error": str(error.get("message") or code), "code": code}
    if error.get("retryable"):
        after = error.get("retryAfter")
        seconds = max(1, math.ceil(after)) if isinstance(after, int | float) else 5
        return json_answer(503, body, {"Retry-After": str(seconds)})
    return json_answer(_PERMANENT_STATUS.get(code, 409), body)
