"""Mailgun webhooks: verify, refuse stale and replayed ones, apply the status.

The payload names its sending domain (in the message id, ``...@mg.example.com``); the
integrations of that domain are found through the integration index, and the webhook is
accepted only if ``signature`` is the HMAC-SHA256 of ``timestamp + token`` under one of
their webhook signing keys (``401`` otherwise). A timestamp older than
``MAILGUN_WEBHOOK_MAX_AGE_SECONDS``, or more than :data:`providers.webhooks.MAX_FUTURE_SKEW` seconds
ahead, is refused (``401``); each token is remembered in Redis until its timestamp leaves that
window (so for as long as the webhook would be accepted, however far ahead it was
signed), and a second use is refused with ``406`` (which tells Mailgun not to retry).
Nothing is emitted for a refused webhook.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from providers.mailgun._credentials import MailgunCredentials
from providers.mailgun._webhook import (
    MalformedWebhook,
    load_webhook,
    parse_event,
    sending_domain,
    verify_signature,
)
from providers.webhooks import DeliveryReport, WebhookResponse, signed_at, signed_by

if TYPE_CHECKING:
    from providers.webhooks import IntegrationsReader, ReportSink, WebhookContext, WebhookRequest

__all__ = ["PROVIDER", "handle_event", "mailgun_webhook", "token_key"]

log = logging.getLogger(__name__)

PROVIDER = "mailgun"


def _digest(value: str) -> str:
    # As ``streams.tenancy.keys.digest``: the key names of tokens already stored stay valid.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def token_key(token: str) -> str:
    """Redis key remembering a used webhook token."""
    return f"herald:webhook-token:{PROVIDER}:{_digest(token)}"


async def _verified_tenants(
    integrations: IntegrationsReader, domain: str, timestamp: str, token: str, signature: str
) -> set[str]:
    def signs(creds: MailgunCredentials) -> bool:
        key = creds.webhook_signing_key
        return key is not None and verify_signature(
            timestamp, token, signature, key.get_secret_value()
        )

    return await signed_by(integrations, PROVIDER, MailgunCredentials, ("domain", domain), signs)


async def handle_event(
    raw: bytes,
    *,
    redis: Redis,
    integrations: IntegrationsReader,
    updater: ReportSink,
    max_age_seconds: int,
    now: float | None = None,
) -> WebhookResponse:
    try:
        webhook = load_webhook(raw)
    except MalformedWebhook:
        return WebhookResponse(401, "unauthenticated payload")
    domain = sending_domain(webhook.event_data)
    if domain is None:
        return WebhookResponse(401, "cannot attribute the event to a domain")
    tenants = await _verified_tenants(
        integrations, domain, webhook.timestamp, webhook.token, webhook.signature
    )
    if not tenants:
        log.warning("webhook signature rejected", extra={"provider": PROVIDER})
        return WebhookResponse(401, "invalid signature")
    signed = signed_at(webhook.timestamp, time.time() if now is None else now, max_age_seconds)
    if signed is None:
        log.warning("stale webhook refused", extra={"provider": PROVIDER})
        return WebhookResponse(401, "stale timestamp")
    key = token_key(webhook.token)
    # Remembered until the timestamp leaves the window: a replay is refused for as long
    # as the signature would otherwise be accepted.
    if not await redis.set(key, b"1", nx=True, exat=signed + max_age_seconds + 1):
        log.warning("replayed webhook refused", extra={"provider": PROVIDER})
        return WebhookResponse(406, "token already used")
    try:
        event = parse_event(webhook.event_data)
    except MalformedWebhook as exc:
        log.warning("malformed webhook", extra={"provider": PROVIDER, "error": str(exc)[:200]})
        return WebhookResponse(400, "malformed event-data")
    if event is None:
        if webhook.event_data.get("event") == "failed":
            log.info(
                "temporary delivery failure: Mailgun retries",
                extra={"provider": PROVIDER, "domain": domain},
            )
        return WebhookResponse(200, "ignored")
    try:
        await updater.apply(DeliveryReport.of(PROVIDER, event, frozenset(tenants)))
    except BaseException:
        # Not applied: forget the token so that Mailgun's retry of this webhook counts.
        await redis.delete(key)
        raise
    return WebhookResponse(200, "ok")


async def mailgun_webhook(request: WebhookRequest, context: WebhookContext) -> WebhookResponse:
    """``POST /webhooks/mailgun`` (declared on :class:`MailgunProvider`)."""
    return await handle_event(
        request.body,
        redis=context.redis,
        integrations=context.integrations,
        updater=context.reports,
        max_age_seconds=context.settings.mailgun_webhook_max_age_seconds,
    )
