"""Notification request -> APNs request (headers and JSON payload); pure functions.

Request options come from ``metadata.apns`` (all optional)::

    {"apns": {"topic": "com.example.app",     # apns-topic; default: credentials' bundleId
              "pushType": "alert",            # apns-push-type; default alert (background
                                              #   when there is no subject/body)
              "priority": 10,                 # apns-priority: 10, 5 or 1
              "expiration": 0,                # apns-expiration: Unix seconds, 0 = now or never
              "collapseId": "order-1234",     # apns-collapse-id, at most 64 bytes
              "aps": {"badge": 1, "sound": "default"},   # merged into the aps dictionary
              "data": {"orderId": 1234}}}     # custom top-level payload keys

Custom data falls back on ``metadata.fcm.data`` (the firebase provider's key), so a
producer can address channel ``fcm`` without knowing which push provider serves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.errors import InvalidRequest
from schemas.notification import NotificationRequest
from schemas.status import ErrorCode

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "PUSH_TYPES",
    "ApnsOptions",
    "build_payload",
    "device_token",
    "options",
]

#: Apple's documented apns-push-type values.
PUSH_TYPES = frozenset(
    {
        "alert",
        "background",
        "controls",
        "location",
        "voip",
        "complication",
        "fileprovider",
        "mdm",
        "liveactivity",
        "pushtotalk",
        "widgets",
    }
)
#: Payload limits: 4 KB, 5 KB for VoIP.
MAX_PAYLOAD_BYTES = 4096
MAX_VOIP_PAYLOAD_BYTES = 5120
_PRIORITIES = frozenset({1, 5, 10})
_HEX_TOKEN = re.compile(r"^(?:[0-9a-fA-F]{2}){32,100}$")


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(ErrorCode.INVALID_REQUEST.value, message)


def device_token(request: NotificationRequest) -> str:
    """The recipient's device token (hex), or ``invalid_recipient``."""
    token = (request.recipient.device_token or "").strip()
    if not token:
        raise InvalidRequest(ErrorCode.INVALID_RECIPIENT.value, "apn needs recipient.deviceToken")
    if not _HEX_TOKEN.match(token):
        raise InvalidRequest(
            ErrorCode.INVALID_RECIPIENT.value,
            "recipient.deviceToken must be an APNs device token (hexadecimal)",
        )
    return token.lower()


@dataclass(frozen=True, slots=True)
class ApnsOptions:
    topic: str | None = None
    push_type: str | None = None
    priority: int | None = None
    expiration: int | None = None
    collapse_id: str | None = None
    aps: dict[str, Any] | None = None
    data: dict[str, Any] | None = None


def _dict(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be an object")
    return value


def _int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _invalid(f"{where} must be an integer")
    try:
        return int(value)
    except ValueError:
        raise _invalid(f"{where} must be an integer") from None


def _str(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{where} must be a non-empty string")
    return value.strip()


def options(request: NotificationRequest) -> ApnsOptions:
    """``metadata.apns``, checked; ``invalid_request`` names the bad key."""
    raw = _dict(request.metadata.get("apns"), "metadata.apns") or {}
    push_type = _str(raw.get("pushType"), "metadata.apns.pushType")
    if push_type is not None and push_type not in PUSH_TYPES:
        raise _invalid(f"metadata.apns.pushType must be one of {', '.join(sorted(PUSH_TYPES))}")
    priority = _int(raw.get("priority"), "metadata.apns.priority")
    if priority is not None and priority not in _PRIORITIES:
        raise _invalid("metadata.apns.priority must be 10, 5 or 1")
    expiration = _int(raw.get("expiration"), "metadata.apns.expiration")
    if expiration is not None and expiration < 0:
        raise _invalid("metadata.apns.expiration must be Unix seconds (0: deliver once)")
    collapse_id = _str(raw.get("collapseId"), "metadata.apns.collapseId")
    if collapse_id is not None and len(collapse_id.encode()) > 64:
        raise _invalid("metadata.apns.collapseId exceeds 64 bytes")
    data = _dict(raw.get("data"), "metadata.apns.data")
    if data is None:
        fcm = request.metadata.get("fcm")
        data = _dict(fcm.get("data"), "metadata.fcm.data") if isinstance(fcm, dict) else None
    if data is not None and "aps" in data:
        raise _invalid("custom data cannot use the key 'aps' (use metadata.apns.aps)")
    return ApnsOptions(
        topic=_str(raw.get("topic"), "metadata.apns.topic"),
        push_type=push_type,
        priority=priority,
        expiration=expiration,
        collapse_id=collapse_id,
        aps=_dict(raw.get("aps"), "metadata.apns.aps"),
        data=data,
    )


def _alert(request: NotificationRequest) -> dict[str, str]:
    alert: dict[str, str] = {}
    content = request.content
    if content.subject and content.subject.strip():
        alert["title"] = content.subject
    if content.body and content.body.strip():
        alert["body"] = content.body
    return alert


def push_type_of(request: NotificationRequest, opts: ApnsOptions) -> str:
    """``alert`` when there is something to show, else ``background`` (unless given)."""
    if opts.push_type is not None:
        return opts.push_type
    return "alert" if _alert(request) else "background"


def build_payload(request: NotificationRequest, opts: ApnsOptions) -> dict[str, Any]:
    """``{"aps": {"alert": {"title", "body"}, ...}, ...custom data}``.

    ``invalid_request`` / ``unsupported_content`` when there is nothing to send or the
    payload is over Apple's size limit.
    """
    alert = _alert(request)
    aps: dict[str, Any] = {}
    if alert:
        aps["alert"] = alert
    elif push_type_of(request, opts) == "background":
        aps["content-available"] = 1
    if opts.aps:
        aps.update(opts.aps)
    if not alert and not opts.data and not opts.aps:
        raise InvalidRequest(
            ErrorCode.UNSUPPORTED_CONTENT.value,
            "apn needs content.subject or content.body, or custom data (metadata.apns.data)",
        )
    payload: dict[str, Any] = {"aps": aps}
    if opts.data:
        payload.update(opts.data)
    limit = MAX_VOIP_PAYLOAD_BYTES if opts.push_type == "voip" else MAX_PAYLOAD_BYTES
    if len(orjson.dumps(payload)) > limit:
        raise _invalid(f"the APNs payload exceeds {limit} bytes")
    return payload


def build_headers(
    request: NotificationRequest, opts: ApnsOptions, *, bundle_id: str, apns_id: str
) -> dict[str, str]:
    """The ``apns-*`` headers (without ``authorization``)."""
    push_type = push_type_of(request, opts)
    default_priority = 5 if push_type == "background" else 10
    headers = {
        "apns-id": apns_id,
        "apns-topic": opts.topic or bundle_id,
        "apns-push-type": push_type,
        "apns-priority": str(opts.priority if opts.priority is not None else default_priority),
    }
    if opts.expiration is not None:
        headers["apns-expiration"] = str(opts.expiration)
    if opts.collapse_id is not None:
        headers["apns-collapse-id"] = opts.collapse_id
    return headers
