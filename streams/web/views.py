"""Health and webhook endpoints; thin adapters over ``streams.webhooks``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust
from faust.web import Request, Response, View

from streams.web import inbox as inbox_views
from streams.webhooks import WebhookResponse
from streams.webhooks import mailgun as mailgun_hooks
from streams.webhooks import sendgrid as sendgrid_hooks
from streams.webhooks import twilio as twilio_hooks
from streams.webhooks import whatsapp_business as wab

if TYPE_CHECKING:
    from streams.platform.runtime import Runtime

__all__ = ["register"]


def _reply(view: View, answer: WebhookResponse) -> Response:
    return view.text(
        answer.body,
        content_type=answer.content_type,
        status=answer.status,
        headers=answer.headers or None,
    )


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` if it is larger than ``limit`` bytes."""
    declared = request.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
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

    @app.page("/webhooks/twilio")
    class TwilioWebhook(View):
        async def post(self, request: Request) -> Response:
            await runtime.start()
            body = await _read_limited(request, runtime.settings.webhook_max_body_bytes)
            if body is None:
                return self.text("payload too large", status=413)
            answer = await twilio_hooks.handle_status_callback(
                body,
                request_url=str(request.url),
                public_url=runtime.settings.public_url,
                signature=request.headers.get("X-Twilio-Signature"),
                integrations=runtime.integrations,
                updater=runtime.updater,
            )
            return _reply(self, answer)

    @app.page("/webhooks/whatsapp-business")
    class WhatsAppBusinessWebhook(View):
        async def get(self, request: Request) -> Response:
            await runtime.start()
            query = {k: str(v) for k, v in request.query.items()}
            return _reply(self, await wab.handle_verification(query, runtime.integrations))

        async def post(self, request: Request) -> Response:
            await runtime.start()
            body = await _read_limited(request, runtime.settings.webhook_max_body_bytes)
            if body is None:
                return self.text("payload too large", status=413)
            answer = await wab.handle_notification(
                body,
                request.headers.get("X-Hub-Signature-256"),
                integrations=runtime.integrations,
                updater=runtime.updater,
            )
            return _reply(self, answer)

    @app.page("/webhooks/sendgrid")
    class SendGridWebhook(View):
        async def post(self, request: Request) -> Response:
            await runtime.start()
            body = await _read_limited(request, runtime.settings.webhook_max_body_bytes)
            if body is None:
                return self.text("payload too large", status=413)
            answer = await sendgrid_hooks.handle_events(
                body,
                request.headers.get("X-Twilio-Email-Event-Webhook-Signature"),
                request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp"),
                tenant_hint=request.query.get("tenant"),
                integrations=runtime.integrations,
                updater=runtime.updater,
            )
            return _reply(self, answer)

    @app.page("/webhooks/mailgun")
    class MailgunWebhook(View):
        async def post(self, request: Request) -> Response:
            await runtime.start()
            body = await _read_limited(request, runtime.settings.webhook_max_body_bytes)
            if body is None:
                return self.text("payload too large", status=413)
            answer = await mailgun_hooks.handle_event(
                body,
                redis=runtime.redis,
                integrations=runtime.integrations,
                updater=runtime.updater,
                max_age_seconds=runtime.settings.mailgun_webhook_max_age_seconds,
            )
            return _reply(self, answer)
