"""SendGrid v3 errors -> Herald's error tree, driven by one table.

SendGrid answers errors as ``{"errors": [{"message": "...", "field": "...", "help": ...}]}``
and distinguishes them by HTTP status and message only: it has no error codes of its own.
:data:`SENDGRID_ERRORS` therefore names each documented failure (``bad_request``,
``sender_identity_not_verified``, ...); that name goes to ``StatusEvent.error.code``.
Transport problems (no answer, no connection) carry Herald's own codes instead.

References: https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/responses
and https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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

__all__ = [
    "SENDGRID_ERRORS",
    "SendGridError",
    "classify",
    "error_from_response",
    "parse_errors",
]

_E = ErrorCode


#: SendGrid's documented Mail Send failures, by the name Herald gives them.
SENDGRID_ERRORS: Mapping[str, ErrorSpec] = {
    "bad_request": ErrorSpec.final(
        _E.INVALID_REQUEST, "400: the mail failed validation (field named)"
    ),
    "unauthorized": ErrorSpec.auth("401: API key invalid, expired or revoked", _E.AUTH_FAILED),
    "maximum_credits_exceeded": ErrorSpec.final(
        _E.PROVIDER_INACTIVE, "401: the plan's credits are used up"
    ),
    "forbidden": ErrorSpec.auth("403: the API key lacks the mail.send permission", _E.AUTH_FAILED),
    "sender_identity_not_verified": ErrorSpec.auth(
        "403: fromEmail is not a verified Sender Identity", _E.INVALID_CREDENTIALS
    ),
    "temporarily_blocked": ErrorSpec.final(
        _E.PROVIDER_INACTIVE, "403: sending blocked for a while after repeated bad requests"
    ),
    "not_found": ErrorSpec.final(
        _E.PROVIDER_ERROR, "404: no such endpoint (check SENDGRID_API_URL)"
    ),
    "method_not_allowed": ErrorSpec.final(_E.PROVIDER_ERROR, "405: method not allowed"),
    "not_acceptable": ErrorSpec.final(_E.PROVIDER_ERROR, "406: Accept header refused"),
    "payload_too_large": ErrorSpec.final(_E.UNSUPPORTED_CONTENT, "413: the mail exceeds 30 MB"),
    "unsupported_media_type": ErrorSpec.final(
        _E.PROVIDER_ERROR, "415: body is not application/json"
    ),
    "too_many_requests": ErrorSpec.retry(
        _E.RATE_LIMITED, "429: rate limit hit (X-RateLimit-Reset)"
    ),
    "server_error": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "500: SendGrid internal error"),
    "bad_gateway": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "502: bad gateway"),
    "service_unavailable": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "503: service unavailable"),
    "gateway_timeout": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "504: gateway timeout"),
}

_BY_STATUS: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}

#: (status, lowercase message fragment) -> name, checked before :data:`_BY_STATUS`.
_BY_MESSAGE: tuple[tuple[int, str, str], ...] = (
    (401, "maximum credits exceeded", "maximum_credits_exceeded"),
    (403, "verified sender identity", "sender_identity_not_verified"),
    (403, "temporarily blocked", "temporarily_blocked"),
)


@dataclass(frozen=True, slots=True)
class SendGridError:
    message: str
    field: str | None = None
    help: str | None = None


def parse_errors(body: bytes) -> list[SendGridError] | None:
    """The ``errors`` list of a SendGrid error body, or ``None`` when it is not one."""
    errors = json_field(body, "errors")
    if not isinstance(errors, list) or not errors:
        return None
    parsed: list[SendGridError] = []
    for item in errors:
        if not isinstance(item, dict) or not isinstance(item.get("message"), str):
            return None
        field = item.get("field")
        help_ = item.get("help")
        parsed.append(
            SendGridError(
                message=item["message"],
                field=field if isinstance(field, str) and field else None,
                help=help_ if isinstance(help_, str) and help_ else None,
            )
        )
    return parsed


def classify(status: int, messages: list[str]) -> str | None:
    """The table name for an HTTP status and its error messages (``None``: not in the table)."""
    lowered = " ".join(messages).lower()
    for code_status, fragment, name in _BY_MESSAGE:
        if status == code_status and fragment in lowered:
            return name
    return _BY_STATUS.get(status)


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a failed Mail Send response into the exception to raise.

    SendGrid has no error codes: the table's name (or ``http_<status>``) is the code.
    """
    status = response.status_code
    errors = parse_errors(response.content) or []
    text = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
    name = classify(status, [e.message for e in errors])
    spec = SENDGRID_ERRORS[name] if name else None
    message = truncate(text or f"HTTP {status} without a SendGrid error body")
    found = ServiceError(name or f"http_{status}", message, spec, (), status >= 500)
    reset = "x-ratelimit-reset" if status == 429 else None
    return from_response(response, found, message, reset_header=reset)
