"""What the fake FCM checks and answers: Google error bodies, the OAuth token grant, messages.

Shapes follow Google's public references: FCM HTTP v1 ``projects.messages.send`` and its
``ErrorCode`` table, Google's JSON error format (``error.code/message/status/details``),
and the OAuth 2.0 JWT bearer grant of service accounts (RFC 7523) at ``/token``.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

import jwt
import orjson
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox._base import json_response as base_json

__all__ = [
    "AUDIENCES",
    "FCM_CODES",
    "JWT_BEARER",
    "FcmFailure",
    "OAuthFailure",
    "check_assertion",
    "check_message",
    "google_error",
    "json_response",
    "new_access_token",
    "new_message_name",
    "valid_registration_token",
]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Audiences Google's token endpoint accepts in an assertion.
AUDIENCES = ("https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token")
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

#: HTTP status -> Google's canonical status name.
STATUS_NAMES: Mapping[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
#: FCM error code -> (HTTP status, default message), per FCM's ErrorCode reference.
FCM_CODES: Mapping[str, tuple[int, str]] = {
    "UNSPECIFIED_ERROR": (500, "Internal error encountered."),
    "INVALID_ARGUMENT": (400, "Request contains an invalid argument."),
    "UNREGISTERED": (404, "Requested entity was not found."),
    "SENDER_ID_MISMATCH": (403, "SenderId mismatch"),
    "QUOTA_EXCEEDED": (429, "Quota exceeded for the message target."),
    "UNAVAILABLE": (503, "The service is currently unavailable."),
    "INTERNAL": (500, "Internal error encountered."),
    "THIRD_PARTY_AUTH_ERROR": (401, "Auth error from APNS or Web Push Service"),
}
_MESSAGE_FIELDS = frozenset(
    {
        "name",
        "data",
        "notification",
        "android",
        "webpush",
        "apns",
        "fcm_options",
        "fcmOptions",
        "token",
        "topic",
        "condition",
    }
)
_NOTIFICATION_FIELDS = frozenset({"title", "body", "image"})
#: ``<instance id>:<token>``, URL-safe base64 alphabet, as FCM issues them.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}:[A-Za-z0-9_-]{32,4000}$")


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return base_json(body, status, headers, charset="UTF-8")


def google_error(
    http_status: int,
    message: str,
    *,
    fcm_code: str | None = None,
    field_violations: list[dict[str, str]] | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """``{"error": {"code", "message", "status", "details"}}`` as Google APIs answer."""
    error: dict[str, Any] = {
        "code": http_status,
        "message": message,
        "status": status or STATUS_NAMES.get(http_status, "UNKNOWN"),
    }
    details: list[dict[str, Any]] = []
    if fcm_code is not None:
        details.append({"@type": FCM_ERROR_TYPE, "errorCode": fcm_code})
    if field_violations:
        details.append({"@type": BAD_REQUEST_TYPE, "fieldViolations": field_violations})
    if details:
        error["details"] = details
    return {"error": error}


class FcmFailure(Exception):
    """A Google error to answer a send with."""

    def __init__(
        self,
        http_status: int,
        message: str,
        *,
        fcm_code: str | None = None,
        field_violations: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.fcm_code = fcm_code
        self.field_violations = field_violations
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body = google_error(
            self.http_status,
            self.message,
            fcm_code=self.fcm_code,
            field_violations=self.field_violations,
        )
        return json_response(body, self.http_status, self.headers)


class OAuthFailure(Exception):
    """An OAuth 2.0 error (RFC 6749 section 5.2) to answer a token request with."""

    def __init__(self, error: str, description: str, http_status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.http_status = http_status

    def response(self) -> web.Response:
        body = {"error": self.error, "error_description": self.description}
        return json_response(body, self.http_status)


def check_assertion(assertion: str, public_keys: Mapping[str, rsa.RSAPublicKey]) -> tuple[str, str]:
    """Verify a service account's grant assertion; ``(client_email, scope)``.

    The RS256 signature is checked with the account's public key, ``aud`` must be Google's
    token endpoint, and ``iat``/``exp`` must span at most an hour around now.
    """
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise OAuthFailure("invalid_grant", "Invalid JWT: malformed assertion.") from exc
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise OAuthFailure("invalid_grant", "Invalid grant: account not found")
    key = public_keys.get(issuer)
    if key is None or header.get("alg") != "RS256":
        raise OAuthFailure("invalid_grant", "Invalid grant: account not found")
    try:
        jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            audience=list(AUDIENCES),
            options={"require": ["iat", "exp", "aud", "iss"], "verify_exp": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise OAuthFailure("invalid_grant", "Invalid JWT Signature.") from exc
    except jwt.PyJWTError as exc:
        raise OAuthFailure("invalid_grant", f"Invalid JWT: {exc}") from exc
    iat, exp, now = claims.get("iat"), claims.get("exp"), time.time()
    if (
        not isinstance(iat, int | float)
        or not isinstance(exp, int | float)
        or exp - iat > 3600
        or exp < now
        or iat > now + 300
    ):
        raise OAuthFailure(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
            "timeframe. Check your iat and exp values in the JWT claim.",
        )
    scope = claims.get("scope")
    return issuer, scope if isinstance(scope, str) else ""


def new_access_token() -> str:
    return "ya29.c." + secrets.token_urlsafe(96)


def new_message_name(project_id: str) -> str:
    return f"projects/{project_id}/messages/0:{time.time_ns() // 1000}%{secrets.token_hex(8)}"


def valid_registration_token(token: str) -> bool:
    return bool(_TOKEN.match(token))


def _unknown(name: str, where: str) -> FcmFailure:
    text = (
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."
    )
    return FcmFailure(400, text, field_violations=[{"field": where, "description": text}])


def check_message(body: Any) -> tuple[dict[str, Any], str | None, bool]:
    """Check a ``messages:send`` body; ``(message, token or None, validate_only)``."""
    if not isinstance(body, dict):
        raise FcmFailure(400, "Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in ("message", "validate_only", "validateOnly"):
            text = f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
            raise FcmFailure(400, text, field_violations=[{"description": text}])
    message = body.get("message")
    if not isinstance(message, dict):
        raise FcmFailure(400, "Request contains an invalid argument.")
    for name in message:
        if name not in _MESSAGE_FIELDS:
            raise _unknown(name, "message")
    targets = [k for k in ("token", "topic", "condition") if message.get(k)]
    if not targets:
        raise FcmFailure(400, "Recipient of the message is not set.", fcm_code="INVALID_ARGUMENT")
    if len(targets) > 1:
        raise FcmFailure(400, "Request contains an invalid argument.")
    data = message.get("data")
    if data is not None:
        if not isinstance(data, dict):
            raise FcmFailure(400, "Invalid value at 'message.data' (type.googleapis.com/map)")
        for i, (key, value) in enumerate(data.items()):
            if not isinstance(value, str):
                text = f"Invalid value at 'message.data[{i}].value' (TYPE_STRING), {orjson.dumps(value).decode()}"
                raise FcmFailure(
                    400,
                    text,
                    field_violations=[{"field": f"message.data[{i}].value", "description": text}],
                )
            if key in ("from", "message_type") or key.startswith(("google.", "gcm.")):
                raise FcmFailure(400, f"Invalid data key: {key}", fcm_code="INVALID_ARGUMENT")
    notification = message.get("notification")
    if notification is not None:
        if not isinstance(notification, dict):
            raise FcmFailure(400, "Invalid value at 'message.notification'")
        for name, value in notification.items():
            if name not in _NOTIFICATION_FIELDS:
                raise _unknown(name, "message.notification")
            if not isinstance(value, str):
                raise FcmFailure(
                    400, f"Invalid value at 'message.notification.{name}' (TYPE_STRING)"
                )
    for name in ("android", "apns", "webpush"):
        if name in message and not isinstance(message[name], dict):
            raise FcmFailure(400, f"Invalid value at 'message.{name}'")
    if len(orjson.dumps(message)) > 4096 + 1024:
        raise FcmFailure(400, "Message is too big", fcm_code="INVALID_ARGUMENT")
    token = message.get("token")
    validate_only = bool(body.get("validate_only") or body.get("validateOnly"))
    return message, token if isinstance(token, str) else None, validate_only
