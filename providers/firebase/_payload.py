"""Notification request -> FCM HTTP v1 ``messages:send`` body; pure functions.

``{"message": {"token": recipient.deviceToken,
               "notification": {"title": content.subject, "body": content.body,
                                "image": content.media.url},
               "data": metadata.fcm.data,
               "android": metadata.fcm.android, "apns": metadata.fcm.apns,
               "webpush": metadata.fcm.webpush, "fcm_options": metadata.fcm.fcmOptions}}``

Every part but the token is optional, but a message needs a notification or data.
``data`` values must be strings (FCM's ``map<string, string>``); the platform overrides
are passed through as FCM's ``AndroidConfig`` / ``ApnsConfig`` / ``WebpushConfig``
objects (FCM validates them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.errors import InvalidRequest
from schemas.notification import NotificationRequest
from schemas.status import ErrorCode

__all__ = ["FcmOptions", "build_message", "options", "registration_token"]

#: Keys FCM reserves in ``data``.
_RESERVED_DATA_KEYS = frozenset({"from", "message_type"})
_RESERVED_DATA_PREFIXES = ("google.", "gcm.notification.")
#: metadata.fcm key -> FCM message field.
_OVERRIDES = {
    "android": "android",
    "apns": "apns",
    "webpush": "webpush",
    "fcmOptions": "fcm_options",
}


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(ErrorCode.INVALID_REQUEST.value, message)


def registration_token(request: NotificationRequest) -> str:
    """The recipient's registration token, or ``invalid_recipient``."""
    token = (request.recipient.device_token or "").strip()
    if not token:
        raise InvalidRequest(
            ErrorCode.INVALID_RECIPIENT.value, "firebase needs recipient.deviceToken"
        )
    if any(ch.isspace() for ch in token):
        raise InvalidRequest(
            ErrorCode.INVALID_RECIPIENT.value, "recipient.deviceToken contains whitespace"
        )
    return token


@dataclass(frozen=True, slots=True)
class FcmOptions:
    data: dict[str, str] | None = None
    overrides: dict[str, dict[str, Any]] | None = None


def options(request: NotificationRequest) -> FcmOptions:
    """``metadata.fcm``, checked; ``invalid_request`` names the bad key."""
    raw = request.metadata.get("fcm")
    if raw is None:
        return FcmOptions()
    if not isinstance(raw, dict):
        raise _invalid("metadata.fcm must be an object")
    data = raw.get("data")
    if data is not None:
        if not isinstance(data, dict):
            raise _invalid("metadata.fcm.data must be an object of strings")
        for key, value in data.items():
            if not isinstance(value, str):
                raise _invalid(
                    f"metadata.fcm.data.{key} must be a string (FCM data values are strings)"
                )
            if key in _RESERVED_DATA_KEYS or key.startswith(_RESERVED_DATA_PREFIXES):
                raise _invalid(f"metadata.fcm.data.{key} is a key FCM reserves")
    overrides: dict[str, dict[str, Any]] = {}
    for key, field in _OVERRIDES.items():
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise _invalid(f"metadata.fcm.{key} must be an object")
        overrides[field] = value
    return FcmOptions(data=data or None, overrides=overrides or None)


def build_message(request: NotificationRequest, opts: FcmOptions) -> dict[str, Any]:
    """The ``messages:send`` body; ``unsupported_content`` if there is nothing to send."""
    content = request.content
    notification: dict[str, str] = {}
    if content.subject and content.subject.strip():
        notification["title"] = content.subject
    if content.body and content.body.strip():
        notification["body"] = content.body
    if not notification and not opts.data:
        raise InvalidRequest(
            ErrorCode.UNSUPPORTED_CONTENT.value,
            "firebase needs content.subject or content.body, or metadata.fcm.data",
        )
    if notification and content.media is not None and content.media.url:
        notification["image"] = content.media.url
    message: dict[str, Any] = {"token": registration_token(request)}
    if notification:
        message["notification"] = notification
    if opts.data:
        message["data"] = opts.data
    if opts.overrides:
        message.update(opts.overrides)
    return {"message": message}
