"""Mailgun webhooks: signature check and event parsing (pure, no I/O).

Mailgun POSTs JSON::

    {"signature": {"timestamp": "1529006854", "token": "a8ce0edb2dd8...(50 chars)",
                   "signature": "d2271d12299f6592d9d44cd9d250f0704e4674c30d79d07c47a66f95ce71cf55"},
     "event-data": {"event": "delivered", "id": "...", "timestamp": 1529006854.329574,
                    "recipient": "ana@example.com", "log-level": "info",
                    "message": {"headers": {"message-id": "20180614.1@mg.example.com", ...}},
                    "delivery-status": {"code": 250, "message": "OK", ...},
                    "user-variables": {"herald_tenant": "acme", ...}}}

``signature`` is the hex HMAC-SHA256 of ``timestamp + token`` under the account's HTTP
webhook signing key. The timestamp is the signing time (stale ones are refused by the
caller) and the token is random per request (the caller remembers tokens to refuse
replays). ``failed`` events carry ``severity``: ``permanent`` or ``temporary``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from providers.webhooks import MalformedWebhook, WebhookEvent, json_object
from schemas.status import ErrorInfo, Status

__all__ = [
    "MailgunWebhook",
    "MalformedWebhook",
    "WebhookEvent",
    "bare_id",
    "is_fresh",
    "load_webhook",
    "parse_event",
    "sending_domain",
    "sign",
    "verify_signature",
]

_MAX_TOKEN = 512


def bare_id(message_id: str) -> str:
    """A Mailgun message id without its angle brackets (as webhooks spell it)."""
    return message_id.strip().removeprefix("<").removesuffix(">").strip()


@dataclass(frozen=True, slots=True)
class MailgunWebhook:
    timestamp: str
    token: str
    signature: str
    event_data: Mapping[str, Any]


# --- signatures -------------------------------------------------------------------------


def sign(timestamp: str, token: str, signing_key: str) -> str:
    """Mailgun's ``signature``: hex HMAC-SHA256 of ``timestamp + token``."""
    message = (timestamp + token).encode()
    return hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(timestamp: str, token: str, signature: str, signing_key: str | None) -> bool:
    """Constant-time check of ``signature``; anything missing is ``False``."""
    if not signing_key or not timestamp or not token or not signature:
        return False
    expected = sign(timestamp, token, signing_key)
    return hmac.compare_digest(
        expected.encode(), signature.strip().lower().encode("utf-8", "replace")
    )


def is_fresh(timestamp: str, now: float, max_age: float) -> bool:
    """Whether ``timestamp`` (unix seconds) is within ``max_age`` seconds of ``now``."""
    try:
        signed_at = float(timestamp)
    except ValueError:
        return False
    return abs(now - signed_at) <= max_age


# --- payload ----------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(int(value))
    return value if isinstance(value, str) and value else None


def load_webhook(raw_body: bytes) -> MailgunWebhook:
    """The signature fields and event data of a body, or :class:`MalformedWebhook`."""
    data = json_object(raw_body)
    signature = data.get("signature")
    event_data = data.get("event-data")
    if not isinstance(signature, dict):
        raise MalformedWebhook("signature must be an object")
    if not isinstance(event_data, dict):
        raise MalformedWebhook("event-data must be an object")
    timestamp = _text(signature.get("timestamp"))
    token = _text(signature.get("token"))
    digest = _text(signature.get("signature"))
    if timestamp is None or token is None or digest is None:
        raise MalformedWebhook("signature needs timestamp, token and signature")
    if len(token) > _MAX_TOKEN or len(timestamp) > 32 or len(digest) > 128:
        raise MalformedWebhook("signature fields are too long")
    return MailgunWebhook(timestamp=timestamp, token=token, signature=digest, event_data=event_data)


def _message_id(event_data: Mapping[str, Any]) -> str | None:
    message = event_data.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    raw = headers.get("message-id") if isinstance(headers, dict) else None
    message_id = bare_id(raw) if isinstance(raw, str) else ""
    return message_id or None


def sending_domain(event_data: Mapping[str, Any]) -> str | None:
    """The sending domain: from the message id (``...@domain``), else the envelope sender."""
    candidates: list[Any] = [_message_id(event_data)]
    envelope = event_data.get("envelope")
    if isinstance(envelope, dict):
        candidates.append(envelope.get("sender"))
    for value in candidates:
        if isinstance(value, str) and "@" in value:
            domain = value.rsplit("@", 1)[1].strip().strip(">").lower().rstrip(".")
            if domain:
                return domain
    return None


def _failure(event_data: Mapping[str, Any]) -> ErrorInfo:
    status = event_data.get("delivery-status")
    status = status if isinstance(status, dict) else {}
    code = _text(status.get("code")) or _text(event_data.get("reason")) or "failed"
    message = (
        _text(status.get("description"))
        or _text(status.get("message"))
        or _text(event_data.get("reason"))
        or "Mailgun reported a permanent failure"
    )
    return ErrorInfo(code=code, message=message[:1000], retryable=False)


def parse_event(event_data: Mapping[str, Any]) -> WebhookEvent | None:
    """``delivered`` -> delivered, ``opened`` -> read, permanent ``failed`` -> failed.

    Other events, and temporary failures (Mailgun keeps retrying those), give ``None``.
    A tracked event without a message id is :class:`MalformedWebhook`.
    """
    name = event_data.get("event")
    if not isinstance(name, str):
        raise MalformedWebhook("event-data.event must be a string")
    if name == "delivered":
        status, error = Status.DELIVERED, None
    elif name == "opened":
        status, error = Status.READ, None
    elif name == "failed" and event_data.get("severity") == "permanent":
        status, error = Status.FAILED, _failure(event_data)
    else:
        return None
    message_id = _message_id(event_data)
    if message_id is None:
        raise MalformedWebhook("event-data.message.headers.message-id is missing")
    return WebhookEvent(provider_message_id=message_id, status=status, event=name, error=error)
