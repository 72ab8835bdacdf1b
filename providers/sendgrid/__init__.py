"""The ``sendgrid`` provider: Twilio SendGrid's v3 Mail Send API and its signed Event Webhook.

Sending (:class:`SendGridProvider`), the error table (:data:`SENDGRID_ERRORS`) and the
pure webhook helpers the web view uses (:func:`verify_signature`, :func:`parse_events`, ...).
"""

from __future__ import annotations

from providers.sendgrid._errors import SENDGRID_ERRORS, SendGridError, error_from_response
from providers.sendgrid._provider import (
    CUSTOM_ARG_NOTIFICATION,
    CUSTOM_ARG_TENANT,
    SendGridProvider,
)
from providers.sendgrid._webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EventStatus,
    MalformedWebhook,
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
    "EventStatus",
    "MalformedWebhook",
    "SendGridError",
    "SendGridProvider",
    "claimed_tenants",
    "error_from_response",
    "load_events",
    "message_id_of",
    "parse_events",
    "sign",
    "verify_signature",
]
