"""Twilio REST API errors -> Herald's error tree, driven by one table of documented codes.

Twilio answers a refused request with its HTTP status and a JSON body::

    {"code": 21211, "message": "The 'To' number 123 is not a valid phone number.",
     "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}

:data:`TWILIO_ERRORS` lists the codes Herald distinguishes; an unlisted code falls back
on the HTTP status (429 and 5xx retryable, other 4xx permanent). A refused message
fails with Twilio's own code in ``error.code`` (``"21211"``). The 30xxx codes are
delivery errors: Twilio reports them in status callbacks (``ErrorCode``), where they
end the notification as ``failed``.

Reference: https://www.twilio.com/docs/api/errors
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import orjson

from providers._parsing import as_int as _as_int
from providers._parsing import retry_after as _retry_after
from providers._parsing import truncate as _truncate
from providers._sms import ErrorSpec, auth, final, retry
from schemas.errors import (
    InvalidCredentials,
    PermanentError,
    ProviderError,
    ProviderTimeout,
    RetryableError,
)
from schemas.status import ErrorCode

__all__ = [
    "TWILIO_ERRORS",
    "TwilioError",
    "error_from_response",
    "error_from_transport",
    "parse_twilio_error",
]

_E = ErrorCode

#: Twilio's documented error codes -> retryability and meaning.
TWILIO_ERRORS: Mapping[int, ErrorSpec] = {
    # Account and authentication
    20003: auth("Authentication failed: AccountSid/AuthToken (or API key) refused"),
    20005: auth("Account is not active"),
    20008: auth("Resource not accessible with test account credentials"),
    # Service availability and throttling
    20429: retry(_E.RATE_LIMITED, "Too many requests"),
    20500: retry(_E.PROVIDER_UNAVAILABLE, "Internal server error"),
    20503: retry(_E.PROVIDER_UNAVAILABLE, "Service unavailable"),
    21611: retry(_E.RATE_LIMITED, "The From number's queue of outbound messages is full"),
    30001: retry(_E.RATE_LIMITED, "Queue overflow"),
    # The sender (the integration's configuration)
    20404: final(_E.PROVIDER_ERROR, "The requested resource was not found"),
    21212: auth("Invalid From number"),
    21603: auth("A From number (or MessagingServiceSid) is required"),
    21606: final(_E.INVALID_REQUEST, "The From number cannot send to this destination"),
    # The request or its recipient
    21211: final(_E.INVALID_RECIPIENT, "Invalid To phone number"),
    21408: final(_E.INVALID_RECIPIENT, "Sending to this region is not enabled"),
    21602: final(_E.INVALID_REQUEST, "Message body is required"),
    21604: final(_E.INVALID_REQUEST, "A To phone number is required"),
    21608: final(_E.INVALID_RECIPIENT, "Trial account: the To number is not verified"),
    21610: final(_E.INVALID_RECIPIENT, "The recipient unsubscribed (replied STOP)"),
    21612: final(_E.INVALID_RECIPIENT, "To and From cannot be connected"),
    21614: final(_E.INVALID_RECIPIENT, "The To number is not a mobile number"),
    21617: final(_E.INVALID_REQUEST, "The message body exceeds 1600 characters"),
    # Delivery errors (reported by status callbacks)
    30002: final(_E.PROVIDER_INACTIVE, "Account suspended"),
    30003: final(_E.INVALID_RECIPIENT, "Unreachable destination handset"),
    30004: final(_E.INVALID_RECIPIENT, "Message blocked"),
    30005: final(_E.INVALID_RECIPIENT, "Unknown destination handset"),
    30006: final(_E.INVALID_RECIPIENT, "Landline or unreachable carrier"),
    30007: final(_E.PROVIDER_ERROR, "Message filtered by the carrier"),
    30008: final(_E.PROVIDER_ERROR, "Unknown error"),
    30034: final(_E.PROVIDER_INACTIVE, "US A2P 10DLC: message from an unregistered number"),
}


@dataclass(frozen=True, slots=True)
class TwilioError:
    """The parts of a Twilio error body Herald uses."""

    code: int
    message: str
    more_info: str | None = None
    status: int | None = None


def parse_twilio_error(body: bytes) -> TwilioError | None:
    """Read a Twilio error body leniently: ``None`` when it is not one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    code = _as_int(data.get("code"))
    if code is None:
        return None
    message = data.get("message")
    more_info = data.get("more_info")
    return TwilioError(
        code=code,
        message=message if isinstance(message, str) and message else f"Twilio error {code}",
        more_info=more_info if isinstance(more_info, str) else None,
        status=_as_int(data.get("status")),
    )


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a non-2xx Twilio response into the exception to raise."""
    status = response.status_code
    retry_after = _retry_after(response.headers)
    error = parse_twilio_error(response.content)
    if error is None:
        return _from_status(status, retry_after)
    code = str(error.code)
    message = _truncate(error.message)
    spec = TWILIO_ERRORS.get(error.code)
    if spec is None:
        retryable = status >= 500 or status == 429
        if status == 401:
            return InvalidCredentials(code, message, provider_code=code)
    elif spec.credentials:
        return InvalidCredentials(code, message, provider_code=code)
    else:
        retryable = spec.retryable
    if retryable:
        return RetryableError(code, message, retry_after=retry_after, provider_code=code)
    return PermanentError(code, message, provider_code=code)


def _from_status(status: int, retry_after: float | None) -> ProviderError:
    """No readable Twilio error: decide by the HTTP status alone."""
    reason = f"HTTP {status} without a readable Twilio error body"
    provider_code = f"http_{status}"
    if status == 429:
        return RetryableError(
            _E.RATE_LIMITED.value, reason, retry_after=retry_after, provider_code=provider_code
        )
    if status >= 500 or status == 408:
        return RetryableError(
            _E.PROVIDER_UNAVAILABLE.value,
            reason,
            retry_after=retry_after,
            provider_code=provider_code,
        )
    if status in (401, 403):
        return InvalidCredentials(_E.AUTH_FAILED.value, reason, provider_code=provider_code)
    return PermanentError(_E.PROVIDER_ERROR.value, reason, provider_code=provider_code)


def error_from_transport(exc: httpx.HTTPError) -> ProviderError:
    """Translate an httpx failure (no usable response) into the exception to raise."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"Twilio did not answer in time ({type(exc).__name__})")
    return RetryableError(
        _E.PROVIDER_UNAVAILABLE.value, f"Twilio unreachable ({type(exc).__name__})"
    )
