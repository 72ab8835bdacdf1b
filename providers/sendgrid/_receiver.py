"""SendGrid's signed Event Webhook: verify, attribute to tenants, apply the statuses.

A batch is accepted only when ``X-Twilio-Email-Event-Webhook-Signature`` verifies under the
verification key (``webhookPublicKey``) of every tenant it claims: the ``?tenant=`` query
parameter of the webhook URL, and the ``herald_tenant`` custom argument Herald puts in each
mail (SendGrid echoes it in the events). Tenants sharing that key (one SendGrid account)
are found through the integration index. Anything else is ``401`` and nothing is emitted.
"""

from __future__ import annotations

import logging

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
from providers.webhooks import (
    DeliveryReport,
    IntegrationsReader,
    ReportSink,
    WebhookContext,
    WebhookRequest,
    WebhookResponse,
)
from schemas.errors import InvalidTenantId

__all__ = ["PROVIDER", "handle_events", "sendgrid_webhook"]

log = logging.getLogger(__name__)

PROVIDER = "sendgrid"
_MAX_CLAIMED_TENANTS = 16


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
) -> WebhookResponse:
    if not signature or not timestamp:
        return WebhookResponse(401, "missing signature headers")
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
    applied = 0
    for item in parse_events(events):
        await updater.apply(
            DeliveryReport(
                provider=PROVIDER,
                provider_message_id=item.provider_message_id,
                status=item.status,
                error=item.error,
                tenants=tenants,
            )
        )
        applied += 1
    log.info(
        "sendgrid events received",
        extra={"provider": PROVIDER, "events": len(events), "applied": applied},
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
    )
