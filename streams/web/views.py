"""Health and webhook endpoints.

Webhooks are not written here: every registered provider declares its own
(``Provider.webhooks``, :mod:`providers.webhooks`) and :func:`mount_webhooks` mounts them
all the same way: body size limit, a :class:`WebhookRequest`, the handler, its answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import faust
from faust.web import Request, Response, View

from providers.registry import REGISTRY
from providers.webhooks import Webhook, WebhookContext, WebhookRequest, WebhookResponse
from streams.web import inbox as inbox_views
from streams.web.guard import WebhookGuard, client_address

if TYPE_CHECKING:
    from streams.platform.runtime import Runtime

__all__ = ["mount_webhooks", "register", "reply", "webhook_view"]


def reply(view: View, answer: WebhookResponse) -> Response:
    """``answer`` (a webhook's or an endpoint's) as ``view``'s HTTP response."""
    return view.text(
        answer.body,
        content_type=answer.content_type,
        status=answer.status,
        headers=answer.headers or None,
    )


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` if it is larger than ``limit`` bytes."""
    declared = request.headers.get("Content-Length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    body: bytes = await request.read()
    return None if len(body) > limit else body


def register(app: faust.App, runtime: Runtime) -> None:
    inbox_views.register(app, runtime)  # /inbox/... (streams/web/inbox.py)

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            # The public port: the answer says ready or not, nothing about the worker's
            # load or topology (docs/security.md). Metrics are on the admin listener.
            ok = runtime.assigned and runtime.started
            body: dict[str, Any] = {"status": "ok" if ok else "starting"}
            return self.json(body, status=200 if ok else 503, headers={"Cache-Control": "no-store"})

    mount_webhooks(app, runtime)


def webhook_view(hook: Webhook, runtime: Runtime) -> type[View]:
    """A Faust view answering ``hook.methods`` on ``hook.path`` with ``hook.handler``."""
    guards: list[WebhookGuard] = []

    async def answer(view: View, request: Request) -> Response:
        await runtime.start()
        body = b""
        if request.method not in ("GET", "HEAD"):
            limited = await _read_limited(request, runtime.settings.webhook_max_body_bytes)
            if limited is None:
                return view.text("payload too large", status=413)
            body = limited
        incoming = WebhookRequest(
            method=request.method,
            url=str(request.url),
            headers=request.headers,
            query={k: str(v) for k, v in request.query.items()},
            body=body,
        )
        if not guards:
            guards.append(WebhookGuard(runtime.redis, runtime.settings))
        guard = guards[0]
        context = WebhookContext(
            integrations=runtime.integrations,
            reports=runtime.updater,
            settings=runtime.settings,
            redis=runtime.redis,
        )
        source = client_address(
            request.remote, request.headers, runtime.settings.webhook_client_ip_header
        )
        answer = await guard.run(
            hook.path, source, incoming, lambda: hook.handler(incoming, context)
        )
        return reply(view, answer)

    methods: dict[str, Callable[[View, Request], Awaitable[Response]]] = {
        method.lower(): answer for method in hook.methods
    }
    return type(f"Webhook{hook.path.replace('/', '_').replace('-', '_')}", (View,), methods)


def mount_webhooks(
    app: faust.App, runtime: Runtime, providers: Iterable[type[Any]] | None = None
) -> list[str]:
    """Mount the webhooks every registered provider declares; the paths mounted."""
    paths: list[str] = []
    for cls in REGISTRY.values() if providers is None else providers:
        for hook in cls.webhooks:
            app.page(hook.path)(webhook_view(hook, runtime))
            paths.append(hook.path)
    return paths
