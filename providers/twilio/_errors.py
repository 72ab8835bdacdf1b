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

import httpx

from providers.errors import (
    ErrorSpec,
    ServiceError,
    as_int,
    from_response,
    from_transport,
    json_field,
    truncate,
)
from schemas.errors import ProviderError
from schemas.status import ErrorCode

__all__ = [
    "TWILIO_ERRORS",
    "error_from_response",
    "error_from_transport",
    "parse_twilio_error",
]

_E = ErrorCode

#: Twilio's documented error codes -> retryability and meaning.
TWILIO_ERRORS: Mapping[int, ErrorSpec] = {
    # Account and authentication
    20003: ErrorSpec.auth("Authentication failed: AccountSid/AuthToken (or API key) refused"),
    20005: ErrorSpec.auth("Account is not active"),
    20008: ErrorSpec.auth("Resource not accessible with test account credentials"),
    # Service availability and throttling
    20429: ErrorSpec.retry(_E.RATE_LIMITED, "Too many requests"),
    20500: ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "Internal server error"),
    20503: ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "Service unavailable"),
    21611: ErrorSpec.retry(_E.RATE_LIMITED, "The From number's queue of outbound messages is full"),
    30001: ErrorSpec.retry(_E.RATE_LIMITED, "Queue overflow"),
    # The sender (the integration's configuration)
    20404: ErrorSpec.final(_E.PROVIDER_ERROR, "The requested resource was not found"),
    21212: ErrorSpec.auth("Invalid From number"),
    21603: ErrorSpec.auth("A From number (or MessagingServiceSid) is required"),
    21606: ErrorSpec.final(_E.INVALID_REQUEST, "The From number cannot send to this destination"),
    # The request or its recipient
    21211: ErrorSpec.final(_E.INVALID_RECIPIENT, "Invalid To phone number"),
    21408: ErrorSpec.final(_E.INVALID_RECIPIENT, "Sending to this region is not enabled"),
    21602: ErrorSpec.final(_E.INVALID_REQUEST, "Message body is required"),
    21604: ErrorSpec.final(_E.INVALID_REQUEST, "A To phone number is required"),
    21608: ErrorSpec.final(_E.INVALID_RECIPIENT, "Trial account: the To number is not verified"),
    21610: ErrorSpec.final(_E.INVALID_RECIPIENT, "The recipient unsubscribed (replied STOP)"),
    21612: ErrorSpec.final(_E.INVALID_RECIPIENT, "To and From cannot be connected"),
    21614: ErrorSpec.final(_E.INVALID_RECIPIENT, "The To number is not a mobile number"),
    21617: ErrorSpec.final(_E.INVALID_REQUEST, "The message body exceeds 1600 characters"),
    # Delivery errors (reported by status callbacks)
    30002: ErrorSpec.final(_E.PROVIDER_INACTIVE, "Account suspended"),
    30003: ErrorSpec.final(_E.INVALID_RECIPIENT, "Unreachable destination handset"),
    30004: ErrorSpec.final(_E.INVALID_RECIPIENT, "Message blocked"),
    30005: ErrorSpec.final(_E.INVALID_RECIPIENT, "Unknown destination handset"),
    30006: ErrorSpec.final(_E.INVALID_RECIPIENT, "Landline or unreachable carrier"),
    30007: ErrorSpec.final(_E.PROVIDER_ERROR, "Message filtered by the carrier"),
    30008: ErrorSpec.final(_E.PROVIDER_ERROR, "Unknown error"),
    30034: ErrorSpec.final(
        _E.PROVIDER_INACTIVE, "US A2P 10DLC: message from an unregistered number"
    ),
}


def parse_twilio_error(body: bytes) -> ServiceError | None:
    """Read a Twilio error body leniently: ``None`` when it is not one.

    Only 401 means refused credentials for a code missing from :data:`TWILIO_ERRORS`.
    """
    data = json_field(body)
    code = as_int(data.get("code")) if isinstance(data, dict) else None
    if data is None or code is None:
        return None
    message = data.get("message")
    text = message if isinstance(message, str) and message else f"Twilio error {code}"
    return ServiceError(str(code), truncate(text), TWILIO_ERRORS.get(code), auth_statuses=(401,))


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a non-2xx Twilio response into the exception to raise."""
    unreadable = f"HTTP {response.status_code} without a readable Twilio error body"
    return from_response(response, parse_twilio_error(response.content), unreadable)


def error_from_transport(exc: httpx.HTTPError) -> ProviderError:
    """Translate an httpx failure (no usable response) into the exception to raise."""
    return from_transport(exc, "Twilio")
