"""Cloud API webhooks: signature check, verification challenge and status parsing.

Pure functions, no I/O: the web view reads the request, looks tenants up and emits
events; this module only decides what the bytes mean. Any payload that is not a
``whatsapp_business_account`` notification of the documented shape raises
:class:`MalformedWebhook` (never ``KeyError``/``TypeError``).

Payload shape (Meta's "messages" webhook, status notifications)::

    {"object": "whatsapp_business_account",
     "entry": [{"id": "<WABA id>",
                "changes": [{"field": "messages",
                             "value": {"messaging_product": "whatsapp",
                                       "metadata": {"display_phone_number": "...",
                                                    "phone_number_id": "..."},
                                       "statuses": [{"id": "wamid...", "status": "sent",
                                                     "timestamp": "1750857384",
                                                     "recipient_id": "...",
                                                     "errors": [{"code": 131026, ...}]}]}}]}]}
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from providers.webhooks import MalformedWebhook, json_object
from schemas.status import ErrorInfo, Status

__all__ = [
    "SIGNATURE_HEADER",
    "Challenge",
    "MalformedWebhook",
    "WebhookStatus",
    "answer_challenge",
    "load_payload",
    "parse_challenge",
    "parse_statuses",
    "phone_number_ids",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_PREFIX = "sha256="
_OBJECT = "whatsapp_business_account"

#: Webhook statuses Herald turns into status events; others ("deleted", "warning", ...)
#: are skipped.
_STATUSES: Mapping[str, Status] = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.READ,
    "failed": Status.FAILED,
}


# --- signatures -------------------------------------------------------------------------


def sign(raw_body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta computes for ``raw_body``."""
    digest = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return _SIGNATURE_PREFIX + digest


def verify_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether ``header`` is ``sha256=<hex HMAC-SHA256(app_secret, raw_body)>``.

    Compared in constant time; a missing, empty or malformed header is ``False``.
    """
    if not header or not app_secret:
        return False
    provided = header.strip()
    if provided[: len(_SIGNATURE_PREFIX)].lower() != _SIGNATURE_PREFIX:
        return False
    provided = _SIGNATURE_PREFIX + provided[len(_SIGNATURE_PREFIX) :].lower()
    expected = sign(raw_body, app_secret)
    return hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace"))


# --- verification challenge (GET) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    """A subscription check: answer ``challenge`` iff ``verify_token`` is one of ours."""

    verify_token: str
    challenge: str


def parse_challenge(query: Mapping[str, str]) -> Challenge:
    """Read ``hub.mode=subscribe``, ``hub.verify_token`` and ``hub.challenge``."""
    if query.get("hub.mode") != "subscribe":
        raise MalformedWebhook("hub.mode must be 'subscribe'")
    token = query.get("hub.verify_token")
    challenge = query.get("hub.challenge")
    if not token or not challenge:
        raise MalformedWebhook("hub.verify_token and hub.challenge are required")
    if len(challenge) > 512:
        raise MalformedWebhook("hub.challenge is too long")
    return Challenge(verify_token=token, challenge=challenge)


def answer_challenge(query: Mapping[str, str], verify_token: str) -> str | None:
    """The challenge to echo when ``query`` is a subscribe check for ``verify_token``.

    ``None`` when the token does not match or the query is not a subscription check.
    For many tenants, use :func:`parse_challenge` and look the token up instead.
    """
    try:
        check = parse_challenge(query)
    except MalformedWebhook:
        return None
    if not verify_token:
        return None
    matches = hmac.compare_digest(
        check.verify_token.encode("utf-8", "replace"), verify_token.encode("utf-8", "replace")
    )
    return check.challenge if matches else None


# --- notifications (POST) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookStatus:
    """One message status from a webhook."""

    phone_number_id: str
    provider_message_id: str
    status: Status
    timestamp: datetime
    recipient_id: str | None = None
    error: ErrorInfo | None = None


def load_payload(raw_body: bytes) -> dict[str, Any]:
    """Decode a webhook body into a JSON object, or raise :class:`MalformedWebhook`."""
    return json_object(raw_body)


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise MalformedWebhook(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedWebhook(f"{where} must be a list")
    return value


def _str(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise MalformedWebhook(f"{where} must be a non-empty string")
    return str(value)


def _values(payload: Any) -> Iterator[tuple[str | None, Mapping[str, Any], str]]:
    """Each change's (field, value, path) of a ``whatsapp_business_account`` payload."""
    root = _obj(payload, "payload")
    if root.get("object") != _OBJECT:
        raise MalformedWebhook(f"payload.object must be {_OBJECT!r}")
    for i, entry in enumerate(_list(root.get("entry"), "entry")):
        changes = _obj(entry, f"entry[{i}]").get("changes")
        for j, change in enumerate(_list(changes, f"entry[{i}].changes")):
            path = f"entry[{i}].changes[{j}]"
            change_obj = _obj(change, path)
            field = change_obj.get("field")
            yield (
                field if isinstance(field, str) else None,
                _obj(change_obj.get("value"), f"{path}.value"),
                f"{path}.value",
            )


def _phone_number_id(value: Mapping[str, Any], path: str) -> str:
    metadata = _obj(value.get("metadata"), f"{path}.metadata")
    return _str(metadata.get("phone_number_id"), f"{path}.metadata.phone_number_id")


def phone_number_ids(payload: Any) -> set[str]:
    """Every business phone number id the payload is about (to find its tenants)."""
    return {
        _phone_number_id(value, path)
        for _field, value, path in _values(payload)
        if "metadata" in value
    }


def _timestamp(value: Any, where: str) -> datetime:
    raw = _str(value, where)
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise MalformedWebhook(f"{where} must be unix seconds")
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedWebhook(f"{where} is out of range") from exc


def _error(value: Any, where: str) -> ErrorInfo | None:
    errors = _list(value, where)
    if not errors:
        return None
    first = _obj(errors[0], f"{where}[0]")
    code = _str(first.get("code"), f"{where}[0].code")
    title = first.get("title") or first.get("message")
    message = title if isinstance(title, str) and title else f"error {code}"
    error_data = first.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    if isinstance(details, str) and details and details != message:
        message = f"{message}: {details}"
    return ErrorInfo(code=code, message=message[:1000], retryable=False)


def _status(raw: Any, phone_number_id: str, where: str) -> WebhookStatus | None:
    item = _obj(raw, where)
    raw_status = item.get("status")
    if not isinstance(raw_status, str):
        raise MalformedWebhook(f"{where}.status must be a string")
    status = _STATUSES.get(raw_status)
    if status is None:
        return None
    recipient = item.get("recipient_id")
    errors = item.get("errors")
    return WebhookStatus(
        phone_number_id=phone_number_id,
        provider_message_id=_str(item.get("id"), f"{where}.id"),
        status=status,
        timestamp=_timestamp(item.get("timestamp"), f"{where}.timestamp"),
        recipient_id=_str(recipient, f"{where}.recipient_id") if recipient is not None else None,
        error=_error(errors, f"{where}.errors") if errors is not None else None,
    )


def parse_statuses(payload: Any) -> list[WebhookStatus]:
    """The sent/delivered/read/failed statuses in a webhook payload, in payload order.

    Changes of other fields and inbound-message notifications carry no statuses and
    yield nothing; statuses Herald does not track (e.g. ``deleted``) are skipped.
    """
    result: list[WebhookStatus] = []
    for field, value, path in _values(payload):
        if field not in (None, "messages") or "statuses" not in value:
            continue
        phone_number_id = _phone_number_id(value, path)
        for k, raw in enumerate(_list(value.get("statuses"), f"{path}.statuses")):
            parsed = _status(raw, phone_number_id, f"{path}.statuses[{k}]")
            if parsed is not None:
                result.append(parsed)
    return result
