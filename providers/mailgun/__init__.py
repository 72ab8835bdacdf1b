"""The ``mailgun`` provider: Mailgun's Messages API (US and EU regions) and its webhooks.

Sending (:class:`MailgunProvider`), the error table (:data:`MAILGUN_ERRORS`) and the pure
webhook helpers the web view uses (:func:`verify_signature`, :func:`parse_event`, ...).
"""

from __future__ import annotations

from providers.mailgun._credentials import MailgunCredentials
from providers.mailgun._errors import MAILGUN_ERRORS, error_from_response
from providers.mailgun._provider import (
    VAR_NOTIFICATION,
    VAR_TENANT,
    MailgunPayload,
    MailgunProvider,
)
from providers.mailgun._receiver import handle_event, mailgun_webhook, token_key
from providers.mailgun._webhook import (
    MailgunWebhook,
    MalformedWebhook,
    WebhookEvent,
    bare_id,
    is_fresh,
    load_webhook,
    parse_event,
    sending_domain,
    sign,
    verify_signature,
)

__all__ = [
    "MAILGUN_ERRORS",
    "VAR_NOTIFICATION",
    "VAR_TENANT",
    "MailgunCredentials",
    "MailgunPayload",
    "MailgunProvider",
    "MailgunWebhook",
    "MalformedWebhook",
    "WebhookEvent",
    "bare_id",
    "error_from_response",
    "handle_event",
    "is_fresh",
    "load_webhook",
    "mailgun_webhook",
    "parse_event",
    "sending_domain",
    "sign",
    "token_key",
    "verify_signature",
]
