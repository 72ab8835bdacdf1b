"""The ``whatsapp-business`` provider: Meta's WhatsApp Business Cloud API.

Sending (:class:`WhatsAppBusinessProvider`), the Graph error table
(:data:`GRAPH_ERRORS`) and the pure webhook helpers the web view uses
(:func:`verify_signature`, :func:`parse_challenge`, :func:`parse_statuses`, ...).
"""

from __future__ import annotations

from providers.whatsapp_business._credentials import WhatsAppBusinessCredentials
from providers.whatsapp_business._errors import (
    GRAPH_ERRORS,
    GraphError,
    error_from_response,
    parse_graph_error,
)
from providers.whatsapp_business._payload import PENDING_UPLOAD, media_kind, message_kind
from providers.whatsapp_business._provider import WhatsAppBusinessProvider
from providers.whatsapp_business._receiver import (
    handle_notification,
    handle_verification,
    whatsapp_business_webhook,
)
from providers.whatsapp_business._webhook import (
    SIGNATURE_HEADER,
    Challenge,
    MalformedWebhook,
    WebhookStatus,
    answer_challenge,
    load_payload,
    parse_challenge,
    parse_statuses,
    phone_number_ids,
    sign,
    verify_signature,
)

__all__ = [
    "GRAPH_ERRORS",
    "PENDING_UPLOAD",
    "SIGNATURE_HEADER",
    "Challenge",
    "GraphError",
    "MalformedWebhook",
    "WebhookStatus",
    "WhatsAppBusinessCredentials",
    "WhatsAppBusinessProvider",
    "answer_challenge",
    "error_from_response",
    "handle_notification",
    "handle_verification",
    "load_payload",
    "media_kind",
    "message_kind",
    "parse_challenge",
    "parse_graph_error",
    "parse_statuses",
    "phone_number_ids",
    "sign",
    "verify_signature",
    "whatsapp_business_webhook",
]
