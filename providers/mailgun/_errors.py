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

from providers.errors import (
    ErrorSpec,
    ServiceError,
    from_response,
    json_field,
    truncate,
)
from schemas.errors import ProviderError
from schemas.status import ErrorCode

__all__ = ["MAILGUN_ERRORS", "classify", "error_from_response", "parse_message"]

_E = ErrorCode

MAILGUN_ERRORS: Mapping[str, ErrorSpec] = {
    "bad_request": ErrorSpec.final(_E.INVALID_REQUEST, "400: a parameter is missing or invalid"),
    "unauthorized": ErrorSpec.auth("401: API key refused", _E.AUTH_FAILED),
    "request_failed": ErrorSpec.final(_E.PROVIDER_ERROR, "402: parameters valid, request failed"),
    "forbidden": ErrorSpec.auth("403: access denied", _E.AUTH_FAILED),
    "domain_not_found": ErrorSpec.auth(
        "404: no such domain in this region", _E.INVALID_CREDENTIALS
    ),
    "not_found": ErrorSpec.final(_E.PROVIDER_ERROR, "404: no such endpoint"),
    "payload_too_large": ErrorSpec.final(_E.UNSUPPORTED_CONTENT, "413: message over 25 MB"),
    "too_many_requests": ErrorSpec.retry(_E.RATE_LIMITED, "429: rate limit hit"),
    "server_error": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "500: Mailgun internal error"),
    "bad_gateway": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "502: bad gateway"),
    "service_unavailable": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "503: unavailable"),
    "gateway_timeout": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "504: gateway timeout"),
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
    message = json_field(body, "message")
    return message if isinstance(message, str) and message else None


def classify(status: int, message: str | None) -> str | None:
    """The table name for an HTTP status and message (``None``: not in the table)."""
    if status == 404 and message and message.lower().startswith("domain not found"):
        return "domain_not_found"
    return _BY_STATUS.get(status)


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a failed Messages API response into the exception to raise.

    Mailgun has no error codes: the table's name (or ``http_<status>``) is the code.
    """
    status = response.status_code
    message = parse_message(response.content)
    if message is None and status in (401, 403):
        text = response.text.strip()
        message = text if 0 < len(text) <= 100 and "<" not in text else None
    name = classify(status, message)
    detail = truncate(message or f"HTTP {status} without a Mailgun error body")
    spec = MAILGUN_ERRORS[name] if name else None
    found = ServiceError(name or f"http_{status}", detail, spec, (), status >= 500)
    return from_response(response, found, detail)
