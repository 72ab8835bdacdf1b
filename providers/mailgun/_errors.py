"""Mailgun Messages API errors -> Herald's error tree, driven by one table.

Mailgun answers errors with a JSON ``{"message": "..."}`` (or, for a refused key, a plain
``Forbidden``) and distinguishes them by HTTP status only; it has no error codes of its
own. :data:`MAILGUN_ERRORS` names each documented failure (``bad_request``,
``domain_not_found``, ...); that name goes to ``StatusEvent.error.code``.

Reference: https://documentation.mailgun.com/docs/mailgun/api-reference/api-overview
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import orjson

from providers._email import ErrorSpec, exception_for, retry_after_seconds, truncate
from schemas.errors import ProviderError
from schemas.status import ErrorCode

__all__ = ["MAILGUN_ERRORS", "classify", "error_from_response", "parse_message"]

_E = ErrorCode

MAILGUN_ERRORS: Mapping[str, ErrorSpec] = {
    "bad_request": ErrorSpec(False, _E.INVALID_REQUEST, "400: a parameter is missing or invalid"),
    "unauthorized": ErrorSpec(False, _E.AUTH_FAILED, "401: API key refused", credentials=True),
    "request_failed": ErrorSpec(False, _E.PROVIDER_ERROR, "402: parameters valid, request failed"),
    "forbidden": ErrorSpec(False, _E.AUTH_FAILED, "403: access denied", credentials=True),
    "domain_not_found": ErrorSpec(
        False, _E.INVALID_CREDENTIALS, "404: no such domain in this region", credentials=True
    ),
    "not_found": ErrorSpec(False, _E.PROVIDER_ERROR, "404: no such endpoint"),
    "payload_too_large": ErrorSpec(False, _E.UNSUPPORTED_CONTENT, "413: message over 25 MB"),
    "too_many_requests": ErrorSpec(True, _E.RATE_LIMITED, "429: rate limit hit"),
    "server_error": ErrorSpec(True, _E.PROVIDER_UNAVAILABLE, "500: Mailgun internal error"),
    "bad_gateway": ErrorSpec(True, _E.PROVIDER_UNAVAILABLE, "502: bad gateway"),
    "service_unavailable": ErrorSpec(True, _E.PROVIDER_UNAVAILABLE, "503: unavailable"),
    "gateway_timeout": ErrorSpec(True, _E.PROVIDER_UNAVAILABLE, "504: gateway timeout"),
}

_BY_STATUS: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    402: "request_failed",
    403: "forbidden",
    404: "not_found",
    413: "payload_too_large",
    429: "too_many_requests",
    500: "server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def parse_message(body: bytes) -> str | None:
    """The ``message`` of a Mailgun JSON error body, or ``None`` when it is not one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    message = data.get("message") if isinstance(data, dict) else None
    return message if isinstance(message, str) and message else None


def classify(status: int, message: str | None) -> str | None:
    """The table name for an HTTP status and message (``None``: not in the table)."""
    if status == 404 and message and message.lower().startswith("domain not found"):
        return "domain_not_found"
    return _BY_STATUS.get(status)


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a failed Messages API response into the exception to raise."""
    status = response.status_code
    message = parse_message(response.content)
    if message is None and status in (401, 403):
        text = response.text.strip()
        message = text if 0 < len(text) <= 100 and "<" not in text else None
    name = classify(status, message)
    if name is None:
        retryable = status >= 500
        spec = ErrorSpec(
            retryable, _E.PROVIDER_UNAVAILABLE if retryable else _E.PROVIDER_ERROR, "other"
        )
        name = f"http_{status}"
    else:
        spec = MAILGUN_ERRORS[name]
    detail = message or f"HTTP {status} without a Mailgun error body"
    retry_after = retry_after_seconds(response.headers) if spec.retryable else None
    return exception_for(spec, name, truncate(detail), retry_after=retry_after)
