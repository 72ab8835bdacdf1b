"""WhatsApp Business Cloud API webhooks: the verification handshake and status updates.

``GET`` answers Meta's subscription check when ``hub.verify_token`` matches a stored
integration's verify token. ``POST`` finds the integrations by the payload's phone
number id, accepts the body only if ``X-Hub-Signature-256`` is the HMAC-SHA256 of the
raw bytes under one of their app secrets (401 and nothing emitted otherwise), then
turns each status into a delivery report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import orjson

from providers.webhooks import DeliveryReport, WebhookResponse, signed_by
from providers.whatsapp_business._credentials import WhatsAppBusinessCredentials
from providers.whatsapp_business._webhook import (
    SIGNATURE_HEADER,
    MalformedWebhook,
    parse_statuses,
    phone_number_ids,
    verify_signature,
)

if TYPE_CHECKING:
    from providers.webhooks import IntegrationsReader, ReportSink, WebhookContext, WebhookRequest

__all__ = ["handle_notification", "handle_verification", "whatsapp_business_webhook"]

log = logging.getLogger(__name__)

PROVIDER = "whatsapp-business"


#: Meta's challenge is a number (about ten digits); a verify token is the operator's string.
#: Anything longer is not Meta's and is not echoed (a reflection vector) nor looked up.
_MAX_CHALLENGE = 64
_MAX_VERIFY_TOKEN = 256


async def handle_verification(
    query: Mapping[str, str], integrations: IntegrationsReader
) -> WebhookResponse:
    mode = query.get("hub.mode")
    token = query.get("hub.verify_token")
    challenge = query.get("hub.challenge")
    if mode != "subscribe" or not token or challenge is None:
        return WebhookResponse(400, "expected hub.mode=subscribe, hub.verify_token, hub.challenge")
    if (
        not 0 < len(challenge) <= _MAX_CHALLENGE
        or not (challenge.isascii() and challenge.isalnum())
        or len(token) > _MAX_VERIFY_TOKEN
    ):
        return WebhookResponse(400, "hub.challenge or hub.verify_token out of bounds")
    # A 403 counts against the source (streams.web.guard): no verify-token oracle.
    tenants = await integrations.tenants_by_index(PROVIDER, "verify_token", token)
    if not tenants:
        return WebhookResponse(403, "verify token does not match any integration")
    return WebhookResponse(200, challenge)


async def _verified_tenants(
    integrations: IntegrationsReader, candidates: list[str], raw: bytes, signature: str
) -> set[str]:
    """Those of ``candidates`` (a phone id's tenants) whose app secret made ``signature``."""
    return await signed_by(
        integrations,
        PROVIDER,
        WhatsAppBusinessCredentials,
        ("phone_number_id", ""),
        lambda creds: verify_signature(raw, signature, creds.app_secret.get_secret_value()),
        candidates=candidates,
    )


async def handle_notification(
    raw: bytes,
    signature: str | None,
    *,
    integrations: IntegrationsReader,
    updater: ReportSink,
    max_phone_ids: int = 10,
) -> WebhookResponse:
    if not signature:
        return WebhookResponse(401, "missing X-Hub-Signature-256")
    try:
        payload = orjson.loads(raw)
        phone_ids = phone_number_ids(payload)
    except (orjson.JSONDecodeError, MalformedWebhook):
        # Cannot tell whose it is, so it cannot be authenticated.
        return WebhookResponse(401, "unauthenticated payload")
    if not phone_ids or len(phone_ids) > max_phone_ids:
        # Meta names a handful; thousands are an amplification attempt: no lookups at all.
        log.warning(
            "webhook refused: phone number ids",
            extra={"provider": PROVIDER, "count": len(phone_ids)},
        )
        return WebhookResponse(401, "unauthenticated payload")
    # Every phone number id in the payload must belong to a tenant whose app secret signed
    # it; a status is then applied only to that tenant's notifications. The index is read
    # for all ids in one round trip; the first id that does not verify ends the check.
    candidates = await integrations.tenants_by_indexes(
        PROVIDER, "phone_number_id", sorted(phone_ids)
    )
    owners: dict[str, set[str]] = {}
    for phone_id in sorted(phone_ids):
        owners[phone_id] = await _verified_tenants(
            integrations, candidates.get(phone_id, []), raw, signature
        )
        if not owners[phone_id]:
            log.warning("webhook signature rejected", extra={"provider": PROVIDER})
            return WebhookResponse(401, "invalid signature")
    try:
        statuses = parse_statuses(payload)
    except MalformedWebhook as exc:
        log.warning("malformed webhook", extra={"provider": PROVIDER, "error": str(exc)[:200]})
        return WebhookResponse(400, "malformed payload")
    for item in statuses:
        tenants = frozenset(owners.get(item.phone_number_id, ()))
        await updater.apply(DeliveryReport.of(PROVIDER, item, tenants))
    return WebhookResponse(200, "ok")


async def whatsapp_business_webhook(
    request: WebhookRequest, context: WebhookContext
) -> WebhookResponse:
    """``GET`` (subscription check) and ``POST`` (statuses) ``/webhooks/whatsapp-business``."""
    if request.method == "GET":
        return await handle_verification(dict(request.query), context.integrations)
    return await handle_notification(
        request.body,
        request.headers.get(SIGNATURE_HEADER),
        integrations=context.integrations,
        updater=context.reports,
        max_phone_ids=context.settings.whatsapp_business_webhook_max_phone_ids,
    )
