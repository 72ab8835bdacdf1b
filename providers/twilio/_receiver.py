"""Twilio status callbacks: ``POST /webhooks/twilio`` -> delivery reports.

Twilio POSTs each status change of a message to the ``StatusCallback`` URL Herald sent
with it (``{HERALD_PUBLIC_URL}/webhooks/twilio``), form-encoded and signed with
``X-Twilio-Signature`` under the account's auth token. The callback names its
``AccountSid``: the integrations with that account SID are looked up, and the body is
accepted only if one of their auth tokens produced the signature over the URL Twilio
called (401 and nothing emitted otherwise). That URL is rebuilt as
``HERALD_PUBLIC_URL`` + the path and query received, because a proxy in front of
Herald changes the host and scheme Herald sees; the URL as received is tried too. The
status may only touch notifications of the verifying tenants (of any tenant when the
system integration's token verified it: tenants sending through the system default).

``queued``/``accepted``/``sending``/``sent`` map to ``sent`` (already emitted by the
router: dropped as duplicates), ``delivered`` and ``read`` to themselves,
``undelivered``/``failed`` to ``failed`` with Twilio's ``ErrorCode`` as ``error.code``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from providers.twilio._credentials import TwilioCredentials
from providers.twilio._webhook import (
    SIGNATURE_HEADER,
    MalformedCallback,
    account_sid,
    callback_url,
    load_form,
    parse_status_callback,
    verify_signature,
)
from providers.webhooks import DeliveryReport, WebhookResponse, signed_by
from schemas.integration import SYSTEM_TENANT

if TYPE_CHECKING:
    from providers.webhooks import IntegrationsReader, ReportSink, WebhookContext, WebhookRequest

__all__ = ["handle_status_callback", "twilio_webhook"]

log = logging.getLogger(__name__)

PROVIDER = "twilio"


async def _verified_tenants(
    integrations: IntegrationsReader,
    account: str,
    urls: list[str],
    params: list[tuple[str, str]],
    signature: str,
) -> set[str]:
    """Tenants with a Twilio integration for ``account`` whose auth token signed the callback."""
    return await signed_by(
        integrations,
        PROVIDER,
        TwilioCredentials,
        ("account_sid", account),
        lambda creds: verify_signature(
            urls, params, signature, creds.auth_token.get_secret_value()
        ),
    )


async def handle_status_callback(
    raw: bytes,
    *,
    request_url: str,
    public_url: str | None,
    signature: str | None,
    integrations: IntegrationsReader,
    updater: ReportSink,
) -> WebhookResponse:
    """Verify and apply one status callback; never raises for a malformed body."""
    if not signature:
        return WebhookResponse(401, "missing X-Twilio-Signature")
    try:
        params = load_form(raw)
        account = account_sid(params)
    except MalformedCallback:
        # Cannot tell whose it is, so it cannot be authenticated.
        return WebhookResponse(401, "unauthenticated callback")
    urls = callback_url(public_url, request_url)
    tenants = await _verified_tenants(integrations, account, urls, params, signature)
    if not tenants:
        log.warning("twilio callback signature rejected", extra={"provider": PROVIDER})
        return WebhookResponse(401, "invalid signature")
    try:
        status = parse_status_callback(params)
    except MalformedCallback as exc:
        log.warning(
            "malformed twilio callback", extra={"provider": PROVIDER, "error": str(exc)[:200]}
        )
        return WebhookResponse(400, "malformed callback")
    if status is None:
        return WebhookResponse(200, "ignored")
    # A callback signed with the system integration's token may concern any tenant that
    # sent through the system default: only the message sid then scopes it.
    scope = None if SYSTEM_TENANT in tenants else frozenset(tenants)
    await updater.apply(DeliveryReport.of(PROVIDER, status, scope))
    return WebhookResponse(200, "ok")


async def twilio_webhook(request: WebhookRequest, context: WebhookContext) -> WebhookResponse:
    """``POST /webhooks/twilio`` (declared on :class:`TwilioProvider`)."""
    return await handle_status_callback(
        request.body,
        request_url=request.url,
        public_url=context.settings.public_url,
        signature=request.headers.get(SIGNATURE_HEADER),
        integrations=context.integrations,
        updater=context.reports,
    )
