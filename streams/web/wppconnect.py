"""The WPPConnect session endpoints, on every worker role's web server.

Thin adapters over :class:`streams.whatsapp.endpoints.SessionEndpoints`: reads come
from Redis, commands are produced to ``whatsapp.commands`` (keyed by tenant) for the
worker that owns the session. Every endpoint takes the optional query parameter
``session`` (a ``sessionName``, :func:`session_param`) and hands it to
:meth:`SessionEndpoints.locate`, which selects the tenant's session (its default without
the parameter); endpoints added later do the same. ``.../events`` is the exception: it
follows all the tenant's sessions at once (:meth:`SessionEndpoints.sessions`).

``.../events`` streams server-sent events (:mod:`streams.whatsapp.live`) with aiohttp's
own ``StreamResponse`` (Faust's web server is aiohttp; its views return aiohttp
responses); the worker ends every open stream when it stops, before aiohttp waits for its
handlers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import faust
from aiohttp import web
from faust.web import Request, Response, View
from redis.exceptions import RedisError

from schemas.whatsapp import CommandName, SessionCommand
from streams.pipeline.ratelimit import TokenBucket
from streams.tenancy.auth import TenantKeys
from streams.web.views import reply
from streams.whatsapp.endpoints import MAX_PAIRING_BODY, SessionEndpoints
from streams.whatsapp.feed import SessionFeed
from streams.whatsapp.live import SSE_HEADERS, LiveEvents, LiveStream, StreamSlots
from streams.whatsapp.naming import SessionRef
from streams.whatsapp.selection import select_session, tenant_sessions
from streams.whatsapp.store import SessionStore

if TYPE_CHECKING:
    from streams.platform.runtime import Runtime

__all__ = ["register", "session_param"]

log = logging.getLogger(__name__)


def session_param(request: Request) -> str | None:
    """The ``session`` query parameter (a tenant's ``sessionName``), if given."""
    value = request.query.get("session")
    return value if isinstance(value, str) and value else None


def _connected(request: Any) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def _stream(request: Any, stream: LiveStream) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers=SSE_HEADERS)
    async with stream:
        await response.prepare(request)
        try:
            async for frame in stream.frames(lambda: _connected(request)):
                await response.write(frame)
        except ConnectionError:  # the client went away mid-write
            pass
        except (TimeoutError, RedisError, OSError) as exc:  # the client reconnects (retry:)
            log.warning(
                "session event stream ended early",
                extra={"tenant_id": stream.tenant_id, "error": repr(exc)},
            )
    return response


def register(app: faust.App, runtime: Runtime) -> None:
    endpoints: list[SessionEndpoints] = []
    lives: list[LiveEvents] = []

    async def produce(command: SessionCommand) -> None:
        topic = runtime.topics.whatsapp_commands
        pending = await topic.send(key=command.tenant_id.encode(), value=command.to_json())
        await pending

    async def select(tenant_id: str, session: str | None) -> SessionRef:
        _, ref = await select_session(tenant_id, session, runtime.lookups, runtime.integrations)
        return ref

    async def sessions(tenant_id: str) -> list[SessionRef]:
        return await tenant_sessions(tenant_id, runtime.lookups, runtime.integrations)

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
                    list_sessions=sessions,
                    pairing_timeout=runtime.settings.wppconnect_call_timeout_seconds * 2 + 15,
                )
            )
        return endpoints[0]

    async def live() -> LiveEvents:
        handlers = await current()
        if not lives:
            settings = runtime.settings
            heartbeat = settings.wppconnect_events_heartbeat_seconds
            lives.append(
                LiveEvents(
                    endpoints=handlers,
                    feed=SessionFeed(runtime.redis, runtime.cipher),
                    slots=StreamSlots(
                        runtime.redis,
                        limit=settings.wppconnect_events_max_streams,
                        heartbeat=heartbeat,
                    ),
                    heartbeat=heartbeat,
                )
            )
        return lives[0]

    async def end_streams(_: web.Application) -> None:
        # aiohttp's on_shutdown: before it waits (up to a minute) for open handlers.
        if lives:
            await lives[0].feed.close()

    app.web.web_app.on_shutdown.append(end_streams)

    def headers(request: Request) -> dict[str, str]:
        return {k: v for k, v in request.headers.items()}

    @app.page("/webhooks/wppconnect/qr/{tenant_id}")
    class WPPConnectQr(View):
        async def get(self, request: Request, tenant_id: str) -> Response:
            answer = await (await current()).qr(tenant_id, headers(request), session_param(request))
            return reply(self, answer)

    @app.page("/webhooks/wppconnect/session/{tenant_id}")
    class WPPConnectSession(View):
        async def get(self, request: Request, tenant_id: str) -> Response:
            answer = await (await current()).session(
                tenant_id, headers(request), session_param(request)
            )
            return reply(self, answer)

    @app.page("/webhooks/wppconnect/session/{tenant_id}/events")
    class WPPConnectEvents(View):
        async def get(self, request: Request, tenant_id: str) -> Any:
            opened = await (await live()).open(tenant_id, headers(request))
            if not isinstance(opened, LiveStream):
                return reply(self, opened)
            return await _stream(request, opened)

    def command_view(command: CommandName) -> type[View]:
        async def post(view: View, request: Request, tenant_id: str) -> Response:
            handlers = await current()
            answer = await handlers.command(
                tenant_id, command, headers(request), session_param(request)
            )
            return reply(view, answer)

        return type(f"WPPConnect{command.value.title()}", (View,), {"post": post})

    for command in (CommandName.CONNECT, CommandName.DISCONNECT, CommandName.LOGOUT):
        app.page(f"/webhooks/wppconnect/session/{{tenant_id}}/{command.value}")(
            command_view(command)
        )

    @app.page("/webhooks/wppconnect/session/{tenant_id}/pairing-code")
    class WPPConnectPairingCode(View):
        async def post(self, request: Request, tenant_id: str) -> Response:
            handlers = await current()
            declared = request.headers.get("Content-Length", "")
            too_large = declared.isdigit() and int(declared) > MAX_PAIRING_BODY
            body = None if too_large else await request.read()
            answer = await handlers.pairing_code(
                tenant_id, headers(request), body, session_param(request)
            )
            return reply(self, answer)
