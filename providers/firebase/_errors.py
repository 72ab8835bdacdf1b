"""FCM HTTP v1 errors -> Herald's error tree, from one table of FCM's error codes.

An error body is Google's ``{"error": {"code", "message", "status", "details": [...]}}``;
the FCM code is in the ``details`` entry of ``@type``
``type.googleapis.com/google.firebase.fcm.v1.FcmError`` (``errorCode``), and a
``google.rpc.BadRequest`` entry names invalid fields (``fieldViolations``).

``error.code`` is the FCM code (``QUOTA_EXCEEDED``, ``SENDER_ID_MISMATCH``, ...), or the
top-level status when there is none (``UNAUTHENTICATED``, ``PERMISSION_DENIED``), except
for a token FCM no longer accepts: ``token_unregistered`` -- ``UNREGISTERED``, and
``INVALID_ARGUMENT`` about the token (FCM's documented "invalid registration token"
answer: an FcmError with no field violation, or a violation on ``message.token``).
``INVALID_ARGUMENT`` naming other fields stays ``INVALID_ARGUMENT`` (the payload is wrong).

Reference: https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from providers.errors import (
    ServiceError,
    from_response,
    from_transport,
    json_field,
)
from schemas.errors import PermanentError, ProviderError

__all__ = [
    "FCM_ERRORS",
    "FCM_ERROR_TYPE",
    "TOKEN_UNREGISTERED",
    "FcmErrorBody",
    "error_from_response",
    "error_from_transport",
    "parse_error",
]

#: ``error.code`` of a registration token FCM no longer accepts: delete it.
TOKEN_UNREGISTERED = "token_unregistered"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

#: FCM error code -> (retryable, description). UNREGISTERED and INVALID_ARGUMENT are
#: special-cased (token_unregistered); THIRD_PARTY_AUTH_ERROR is 401 but not a refresh.
FCM_ERRORS: Mapping[str, tuple[bool, str]] = {
    "UNSPECIFIED_ERROR": (False, "No more information is available about this error"),
    "INVALID_ARGUMENT": (False, "Request parameters were invalid"),
    "UNREGISTERED": (False, "App instance was unregistered from FCM"),
    "SENDER_ID_MISMATCH": (False, "The authenticated sender id differs from the token's"),
    "QUOTA_EXCEEDED": (True, "Sending limit exceeded for the message target"),
    "UNAVAILABLE": (True, "The server is overloaded"),
    "INTERNAL": (True, "An unknown internal error occurred"),
    "THIRD_PARTY_AUTH_ERROR": (False, "APNs certificate or web push auth key was invalid"),
}


@dataclass(frozen=True, slots=True)
class FcmErrorBody:
    http_code: int | None
    message: str
    status: str | None
    error_code: str | None  # the FcmError's errorCode
    fields: tuple[str, ...]  # BadRequest field violations


def parse_error(body: bytes) -> FcmErrorBody | None:
    """Read a Google error body leniently: ``None`` when it is not one."""
    error = json_field(body, "error")
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    status = error.get("status")
    message = error.get("message")
    error_code: str | None = None
    fields: list[str] = []
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        kind = detail.get("@type")
        if kind == FCM_ERROR_TYPE and isinstance(detail.get("errorCode"), str):
            error_code = detail["errorCode"]
        elif kind == BAD_REQUEST_TYPE and isinstance(detail.get("fieldViolations"), list):
            fields += [
                str(v["field"])
                for v in detail["fieldViolations"]
                if isinstance(v, dict) and isinstance(v.get("field"), str)
            ]
    if not isinstance(status, str) and error_code is None:
        return None
    return FcmErrorBody(
        http_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        message=message if isinstance(message, str) and message else "(no message)",
        status=status if isinstance(status, str) else None,
        error_code=error_code,
        fields=tuple(fields),
    )


def is_token_error(error: FcmErrorBody) -> bool:
    """Whether FCM refused the registration token itself (drop the token)."""
    if error.error_code == "UNREGISTERED":
        return True
    if error.error_code == "INVALID_ARGUMENT":
        return not error.fields or any(f == "message.token" for f in error.fields)
    return False


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a non-2xx FCM response into the exception to raise."""
    status = response.status_code
    parsed = parse_error(response.content)
    if parsed is None:
        return from_response(response, None, f"FCM HTTP {status} without a readable error body")
    code = parsed.error_code or parsed.status or f"http_{status}"
    detail = f" ({', '.join(parsed.fields[:5])})" if parsed.fields else ""
    message = f"FCM {status} {code}: {parsed.message}{detail}"[:500]
    if is_token_error(parsed):
        return PermanentError(TOKEN_UNREGISTERED, message, provider_code=code)
    # A known FCM code decides retryability by itself (401 THIRD_PARTY_AUTH_ERROR included).
    known = (
        FCM_ERRORS.get(parsed.error_code or "")
        if parsed.error_code != "UNSPECIFIED_ERROR"
        else None
    )
    if known is None:
        return from_response(response, ServiceError(code, message), "")
    found = ServiceError(code, message, auth_statuses=(), retryable=known[0])
    return from_response(response, found, "")


def error_from_transport(exc: httpx.HTTPError) -> ProviderError:
    """Translate an httpx failure (no usable response) into the exception to raise."""
    return from_transport(exc, "FCM")
