"""SendGrid's signed Event Webhook: signature check and event parsing (pure, no I/O).

SendGrid POSTs a JSON array of events. With the Signed Event Webhook enabled, it signs
``timestamp + raw body`` with ECDSA P-256 / SHA-256 and sends the base64 DER signature in
``X-Twilio-Email-Event-Webhook-Signature`` and the timestamp in
``X-Twilio-Email-Event-Webhook-Timestamp``; the account's verification key (base64 DER
SubjectPublicKeyInfo) verifies it.

An event looks like::

    {"email": "ana@example.com", "timestamp": 1700000000, "event": "delivered",
     "sg_event_id": "...", "sg_message_id": "<X-Message-Id>.filterdrecv-...",
     "smtp-id": "<...>", "response": "250 OK",
     "herald_tenant": "acme", "herald_notification": "n-1"}   # our custom_args

``sg_message_id`` starts with the ``X-Message-Id`` Send answered, up to the first dot.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from providers.webhooks import MalformedWebhook, WebhookEvent, json_array
from schemas.status import ErrorInfo, Status

__all__ = [
    "CUSTOM_ARG_NOTIFICATION",
    "CUSTOM_ARG_TENANT",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "MalformedWebhook",
    "WebhookEvent",
    "claimed_tenants",
    "load_events",
    "message_id_of",
    "parse_events",
    "sign",
    "verify_signature",
]

#: ``custom_args`` Herald puts in every mail; SendGrid echoes them in each webhook event.
CUSTOM_ARG_TENANT = "herald_tenant"
CUSTOM_ARG_NOTIFICATION = "herald_notification"

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

#: Events Herald turns into statuses; the others (processed, deferred, click, ...) are skipped.
_STATUSES: Mapping[str, Status] = {
    "delivered": Status.DELIVERED,
    "open": Status.READ,
    "bounce": Status.FAILED,
    "dropped": Status.FAILED,
}


# --- signatures -----------------------------------------------------------------------


def sign(raw_body: bytes, timestamp: str, private_key: ec.EllipticCurvePrivateKey) -> str:
    """The signature header SendGrid computes (for fakes and tests)."""
    signature = private_key.sign(timestamp.encode() + raw_body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


@lru_cache(maxsize=256)
def _public_key(public_key: str) -> ec.EllipticCurvePublicKey | None:
    try:
        key = load_der_public_key(base64.b64decode(public_key, validate=True))
    except (binascii.Error, ValueError):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def verify_signature(
    raw_body: bytes, signature: str | None, timestamp: str | None, public_key: str | None
) -> bool:
    """Whether ``signature`` is SendGrid's over ``timestamp + raw_body`` under ``public_key``.

    Anything missing, undecodable or not verifying is ``False`` (never an exception).
    """
    if not signature or not timestamp or not public_key:
        return False
    key = _public_key(public_key)
    if key is None:
        return False
    try:
        der = base64.b64decode(signature.strip(), validate=True)
        key.verify(der, timestamp.strip().encode() + raw_body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return True


# --- events -----------------------------------------------------------------------------


def load_events(raw_body: bytes) -> list[dict[str, Any]]:
    """The events of a webhook body, or :class:`MalformedWebhook`."""
    data = json_array(raw_body)
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise MalformedWebhook(f"event [{i}] must be an object")
    return data


def claimed_tenants(events: list[dict[str, Any]]) -> set[str]:
    """Tenants named by the events' ``herald_tenant`` custom argument."""
    found = set()
    for event in events:
        tenant = event.get(CUSTOM_ARG_TENANT)
        if isinstance(tenant, str) and tenant:
            found.add(tenant)
    return found


def message_id_of(sg_message_id: str) -> str:
    """The ``X-Message-Id`` part of an event's ``sg_message_id`` (up to the first dot)."""
    return sg_message_id.split(".", 1)[0].strip()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _error(event: Mapping[str, Any], name: str) -> ErrorInfo:
    code = name
    if name == "bounce" and event.get("type") == "blocked":
        code = "blocked"
    parts = [p for p in (_text(event.get("status")), _text(event.get("reason"))) if p]
    message = " ".join(parts) or f"SendGrid reported {code}"
    return ErrorInfo(code=code, message=message[:1000], retryable=False)


def parse_events(events: list[dict[str, Any]]) -> list[WebhookEvent]:
    """The delivered / open / bounce / dropped events, in order, as statuses.

    Other events are skipped, and so are events without a usable ``sg_message_id``.
    """
    result: list[WebhookEvent] = []
    for event in events:
        name = event.get("event")
        status = _STATUSES.get(name) if isinstance(name, str) else None
        sg_message_id = _text(event.get("sg_message_id"))
        if status is None or name is None or sg_message_id is None:
            continue
        message_id = message_id_of(sg_message_id)
        if not message_id:
            continue
        tenant = _text(event.get(CUSTOM_ARG_TENANT))
        result.append(
            WebhookEvent(
                provider_message_id=message_id,
                status=status,
                event=name,
                error=_error(event, name) if status is Status.FAILED else None,
                tenant=tenant,
                event_id=_text(event.get("sg_event_id")),
            )
        )
    return result
