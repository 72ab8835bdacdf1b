"""SendGrid's signed Event Webhook: verify, attribute to tenants, apply the statuses.

A batch is accepted only when ``X-Twilio-Email-Event-Webhook-Signature`` verifies under the
verification key (``webhookPublicKey``) of every tenant it claims: the ``?tenant=`` query
parameter of the webhook URL, and the ``herald_tenant`` custom argument Herald puts in each
mail (SendGrid echoes it in the events). Tenants sharing that key (one SendGrid account)
are found through the integration index. Anything else is ``401`` and nothing is emitted.

Replays: the signed timestamp must be at most ``SENDGRID_WEBHOOK_MAX_AGE_SECONDS`` old and
at most :data:`providers.webhooks.MAX_FUTURE_SKEW` seconds ahead (``401`` otherwise), and each event's
``sg_event_id`` is remembered for that long: an event seen before is skipped.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from providers.sendgrid._credentials import SendGridCredentials
from providers.sendgrid._webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    MalformedWebhook,
    claimed_tenants,
    load_events,
    parse_events,
    verify_signature,
)
from providers.webhooks import MAX_FUTURE_SKEW, DeliveryReport, WebhookResponse, signed_at
from schemas.errors import InvalidTenantId

if TYPE_CHECKING:
    from providers.webhooks import IntegrationsReader, ReportSink, WebhookContext, WebhookRequest

__all__ = ["PROVIDER", "handle_events", "sendgrid_webhook"]

log = logging.getLogger(__name__)

PROVIDER = "sendgrid"
_MAX_CLAIMED_TENANTS = 16


def event_key(sg_event_id: str) -> str:
    """Redis key remembering an applied event (``sg_event_id``)."""
    return (
        f"herald:webhook-event:{PROVIDER}:{hashlib.sha256(sg_event_id.encode()).hexdigest()[:32]}"
    )


async def _key_owners(
    integrations: IntegrationsReader, tenant: str, raw: bytes, signature: str, timestamp: str
) -> set[str]:
    """Tenants sharing ``tenant``'s verification key, if that key verifies the batch."""
    try:
        creds = await integrations.credentials(tenant, PROVIDER)
    except InvalidTenantId:
        return set()
    if not isinstance(creds, SendGridCredentials) or not creds.webhook_public_key:
        return set()
    if not verify_signature(raw, signature, timestamp, creds.webhook_public_key):
        return set()
    owners = await integrations.tenants_by_index(
        PROVIDER, "webhook_public_key", creds.webhook_public_key
    )
    return {tenant, *owners}


async def handle_events(
    raw: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    tenant_hint: str | None,
    integrations: IntegrationsReader,
    updater: ReportSink,
    redis: Redis | None = None,
    max_age_seconds: int = 900,
    now: float | None = None,
) -> WebhookResponse:
    if not signature or not timestamp:
        return WebhookResponse(401, "missing signature headers")
    if signed_at(timestamp, time.time() if now is None else now, max_age_seconds) is None:
        log.warning("stale sendgrid webhook refused", extra={"provider": PROVIDER})
        return WebhookResponse(401, "stale timestamp")
    try:
        events = load_events(raw)
    except MalformedWebhook:
        # Unreadable, so no tenant can be named: it cannot be authenticated.
        return WebhookResponse(401, "unauthenticated payload")
    claimed = claimed_tenants(events)
    if tenant_hint:
        claimed.add(tenant_hint)
    if not claimed or len(claimed) > _MAX_CLAIMED_TENANTS:
        log.warning("webhook names no tenant", extra={"provider": PROVIDER})
        return WebhookResponse(401, "cannot attribute the events to a tenant")
    verified: set[str] = set()
    for tenant in sorted(claimed):
        if tenant in verified:
            continue
        owners = await _key_owners(integrations, tenant, raw, signature, timestamp)
        if not owners:
            log.warning("webhook signature rejected", extra={"provider": PROVIDER})
            return WebhookResponse(401, "invalid signature")
        verified |= owners
    tenants = frozenset(verified)
    applied = replayed = 0
    ttl = max_age_seconds + MAX_FUTURE_SKEW
    for item in parse_events(events):
        key = event_key(item.event_id) if redis is not None and item.event_id else None
        if (
            key is not None
            and redis is not None
            and not await redis.set(key, b"1", nx=True, ex=ttl)
        ):
            replayed += 1
            continue
        try:
            await updater.apply(DeliveryReport.of(PROVIDER, item, tenants))
        except BaseException:
            if key is not None and redis is not None:  # not applied: SendGrid's retry counts
                await redis.delete(key)
            raise
        applied += 1
    log.info(
        "sendgrid events received",
        extra={
            "provider": PROVIDER,
            "events": len(events),
            "applied": applied,
            "replayed": replayed,
        },
    )
    return WebhookResponse(200, "ok")


async def sendgrid_webhook(request: WebhookRequest, context: WebhookContext) -> WebhookResponse:
    """``POST /webhooks/sendgrid[?tenant=T]`` (declared on :class:`SendGridProvider`)."""
    return await handle_events(
        request.body,
        request.headers.get(SIGNATURE_HEADER),
        request.headers.get(TIMESTAMP_HEADER),
        tenant_hint=request.query.get("tenant"),
        integrations=context.integrations,
        updater=context.reports,
        redis=context.redis,
        max_age_seconds=context.settings.sendgrid_webhook_max_age_seconds,
    )
