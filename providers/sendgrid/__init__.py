"""The ``sendgrid`` provider: Twilio SendGrid's v3 Mail Send API and its signed Event Webhook.

Sending (:class:`SendGridProvider`), the error table (:data:`SENDGRID_ERRORS`) and the
pure webhook helpers the web view uses (:func:`verify_signature`, :func:`parse_events`, ...).
"""

from __future__ import annotations

from providers.sendgrid._credentials import SendGridCredentials, normalize_public_key
from providers.sendgrid._errors import SENDGRID_ERRORS, SendGridError, error_from_response
from providers.sendgrid._provider import SendGridProvider
from providers.sendgrid._receiver import handle_events, sendgrid_webhook
from providers.sendgrid._webhook import (
    CUSTOM_ARG_NOTIFICATION,
    CUSTOM_ARG_TENANT,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    MalformedWebhook,
    WebhookEvent,
    claimed_tenants,
    load_events,
    message_id_of,
    parse_events,
    sign,
    verify_signature,
)

__all__ = [
    "CUSTOM_ARG_NOTIFICATION",
    "CUSTOM_ARG_TENANT",
    "SENDGRID_ERRORS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "MalformedWebhook",
    "SendGridCredentials",
    "SendGridError",
    "SendGridProvider",
    "WebhookEvent",
    "claimed_tenants",
    "error_from_response",
    "handle_events",
    "load_events",
    "message_id_of",
    "normalize_public_key",
    "parse_events",
    "sendgrid_webhook",
    "sign",
    "verify_signature",
]
