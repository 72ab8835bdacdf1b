"""The WPPConnect session endpoints, on every worker role's web server.

Thin adapters over :class:`streams.whatsapp.endpoints.SessionEndpoints`: reads come
from Redis, commands are produced to ``whatsapp.commands`` (keyed by tenant) for the
worker that owns the session. Every endpoint takes the optional query parameter
``session`` (a ``sessionName``, :func:`session_param`) and hands it to
:meth:`SessionEndpoints.locate`, which selects the tenant's session (its default without
the parameter); endpoints added later do the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import faust
from faust.web import Request, Response, View

from schemas.whatsapp import CommandName, SessionCommand
from streams.pipeline.ratelimit import TokenBucket
from streams.tenancy.auth import TenantKeys
from streams.webhooks import WebhookResponse
from streams.whatsapp.endpoints import SessionEndpoints
from streams.whatsapp.naming import SessionRef
from streams.whatsapp.selection import select_session
from streams.whatsapp.store import SessionStore

if TYPE_CHECKING:
    from streams.platform.runtime import Runtime

__all__ = ["register", "session_param"]


def _reply(view: View, answer: WebhookResponse) -> Response:
    return view.text(
        answer.body,
        content_type=answer.content_type,
        status=answer.status,
        headers=answer.headers or None,
    )


def session_param(request: Request) -> str | None:
    """The ``session`` query parameter (a tenant's ``sessionName``), if given."""
    value = request.query.get("session")
    return value if isinstance(value, str) and value else None


def register(app: faust.App, runtime: Runtime) -> None:
    endpoints: list[SessionEndpoints] = []

    async def produce(command: SessionCommand) -> None:
        topic = runtime.topics.whatsapp_commands
        pending = await topic.send(key=command.tenant_id.encode(), value=command.to_json())
        await pending

    async def select(tenant_id: str, session: str | None) -> SessionRef:
        _, ref = await select_session(tenant_id, session, runtime.lookups, runtime.integrations)
        return ref

    async def current() -> SessionEndpoints:
        await runtime.start()
        if not endpoints:
            endpoints.append(
                SessionEndpoints(
                    keys=TenantKeys(runtime.redis),
                    bucket=TokenBucket(runtime.redis),
                    store=SessionStore(runtime.redis, cipher=runtime.cipher),
                    commands=produce,
                    qr_reads_per_minute=runtime.settings.wppconnect_qr_reads_per_minute,
                    select=select,
                )
            )
        return endpoints[0]

    def headers(request: Request) -> dict[str, str]:
        return {k: v for k, v in request.headers.items()}

    @app.page("/webhooks/wppconnect/qr/{tenant_id}")
    class WPPConnectQr(View):
        async def get(self, request: Request, tenant_id: str) -> Response:
            answer = await (await current()).qr(tenant_id, headers(request), session_param(request))
            return _reply(self, answer)

    @app.page("/webhooks/wppconnect/session/{tenant_id}")
    class WPPConnectSession(View):
        async def get(self, request: Request, tenant_id: str) -> Response:
            answer = await (await current()).session(
                tenant_id, headers(request), session_param(request)
            )
            return _reply(self, answer)

    @app.page("/webhooks/wppconnect/session/{tenant_id}/disconnect")
    class WPPConnectDisconnect(View):
        async def post(self, request: Request, tenant_id: str) -> Response:
            handlers = await current()
            answer = await handlers.command(
                tenant_id, CommandName.DISCONNECT, headers(request), session_param(request)
            )
            return _reply(self, answer)
