"""Graph API errors -> Herald's error tree, driven by one table of Meta's documented codes.

Meta asks integrators to act on ``error.code`` (and ``error_data.details``), not on the
HTTP status nor the title. :data:`GRAPH_ERRORS` lists every code Herald distinguishes;
an unlisted code falls back on the HTTP status (4xx permanent, 5xx and 429 retryable).

The ``code`` on the raised exception is the Graph code as a string (``"131026"``): that
is what producers see in ``StatusEvent.error.code``. Transport problems (no answer, no
connection, an unreadable body) carry Herald's own codes instead.

Reference: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from providers import errors
from providers.errors import ErrorSpec, ServiceError
from schemas.errors import ProviderError
from schemas.status import ErrorCode

__all__ = [
    "GRAPH_ERRORS",
    "GraphError",
    "error_from_response",
    "error_from_transport",
    "parse_graph_error",
    "spec_for",
]


_E = ErrorCode

#: Meta's documented Cloud API error codes -> retryability and meaning.
GRAPH_ERRORS: Mapping[int, ErrorSpec] = {
    # Authorization
    0: ErrorSpec.auth("AuthException: the app user could not be authenticated", _E.AUTH_FAILED),
    3: ErrorSpec.auth("API method: capability or permission missing", _E.AUTH_FAILED),
    10: ErrorSpec.auth("Permission denied", _E.AUTH_FAILED),
    190: ErrorSpec.auth("Access token invalid or expired"),
    200: ErrorSpec.auth("API permission missing", _E.AUTH_FAILED),
    131005: ErrorSpec.auth("Access denied: permission not granted or removed", _E.AUTH_FAILED),
    # Throttling
    4: ErrorSpec.retry(_E.RATE_LIMITED, "Too many API calls for the app"),
    80007: ErrorSpec.retry(_E.RATE_LIMITED, "WhatsApp Business Account rate limit hit"),
    130429: ErrorSpec.retry(_E.RATE_LIMITED, "Cloud API throughput limit hit"),
    131048: ErrorSpec.retry(_E.RATE_LIMITED, "Spam rate limit hit"),
    131056: ErrorSpec.retry(_E.RATE_LIMITED, "Business/consumer pair rate limit hit"),
    # Service availability
    1: ErrorSpec.retry(
        _E.PROVIDER_UNAVAILABLE, "API unknown: invalid request or possible server error"
    ),
    2: ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "API service temporarily unavailable"),
    131000: ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "Something went wrong sending the message"),
    131016: ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "Service temporarily unavailable"),
    131057: ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "Business account in maintenance mode"),
    133004: ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "Server temporarily unavailable"),
    # Integrity and account state
    368: ErrorSpec.final(_E.PROVIDER_INACTIVE, "Temporarily blocked for policy violations"),
    130497: ErrorSpec.final(_E.PROVIDER_INACTIVE, "Business account restricted in this country"),
    131031: ErrorSpec.final(_E.PROVIDER_INACTIVE, "Business account locked"),
    131037: ErrorSpec.final(_E.PROVIDER_INACTIVE, "Display name not approved"),
    131042: ErrorSpec.final(_E.PROVIDER_INACTIVE, "Business eligibility payment issue"),
    131045: ErrorSpec.final(
        _E.PROVIDER_INACTIVE, "Phone number registration certificate incorrect"
    ),
    133000: ErrorSpec.final(_E.PROVIDER_INACTIVE, "Incomplete phone number deregistration"),
    133010: ErrorSpec.final(_E.PROVIDER_INACTIVE, "Business phone number not registered"),
    # The request or its recipient
    100: ErrorSpec.final(_E.INVALID_REQUEST, "Invalid parameter"),
    130472: ErrorSpec.final(_E.INVALID_RECIPIENT, "Recipient is part of a Meta experiment"),
    131008: ErrorSpec.final(_E.INVALID_REQUEST, "Required parameter missing"),
    131009: ErrorSpec.final(_E.INVALID_REQUEST, "Parameter value not valid"),
    131021: ErrorSpec.final(_E.INVALID_RECIPIENT, "Recipient cannot be the sender"),
    131026: ErrorSpec.final(_E.INVALID_RECIPIENT, "Message undeliverable"),
    131030: ErrorSpec.final(
        _E.INVALID_RECIPIENT, "Recipient not in the test number's allowed list"
    ),
    131047: ErrorSpec.final(_E.INVALID_RECIPIENT, "Re-engagement needed: 24-hour window closed"),
    131049: ErrorSpec.final(_E.INVALID_RECIPIENT, "Not delivered to keep engagement healthy"),
    131050: ErrorSpec.final(_E.INVALID_RECIPIENT, "Recipient stopped marketing messages"),
    131051: ErrorSpec.final(_E.UNSUPPORTED_CONTENT, "Unsupported message type"),
    131052: ErrorSpec.final(_E.UNSUPPORTED_CONTENT, "Media download error"),
    131053: ErrorSpec.final(_E.UNSUPPORTED_CONTENT, "Media upload error"),
    132000: ErrorSpec.final(_E.INVALID_REQUEST, "Template parameter count mismatch"),
    132001: ErrorSpec.final(_E.INVALID_REQUEST, "Template does not exist"),
    132005: ErrorSpec.final(_E.INVALID_REQUEST, "Template hydrated text too long"),
    132007: ErrorSpec.final(_E.INVALID_REQUEST, "Template format character policy violated"),
    132012: ErrorSpec.final(_E.INVALID_REQUEST, "Template parameter format mismatch"),
    132015: ErrorSpec.final(_E.INVALID_REQUEST, "Template is paused"),
    132016: ErrorSpec.final(_E.INVALID_REQUEST, "Template is disabled"),
    135000: ErrorSpec.final(_E.INVALID_REQUEST, "Generic user error"),
}


def spec_for(code: int) -> ErrorSpec | None:
    """The table entry for ``code``; codes 200-299 all mean a missing API permission."""
    spec = GRAPH_ERRORS.get(code)
    if spec is None and 200 <= code <= 299:
        return GRAPH_ERRORS[200]
    return spec


@dataclass(frozen=True, slots=True)
class GraphError:
    """The parts of a Graph error body Herald uses (``{"error": {...}}``)."""

    code: int
    message: str
    details: str | None = None
    error_type: str | None = None
    subcode: int | None = None
    fbtrace_id: str | None = None


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_graph_error(body: bytes) -> GraphError | None:
    """Read a Graph error body leniently: ``None`` when it is not one."""
    error = errors.json_field(body, "error")
    if not isinstance(error, dict):
        return None
    code = errors.as_int(error.get("code"))
    if code is None:
        return None
    error_data = error.get("error_data")
    details = _as_str(error_data.get("details")) if isinstance(error_data, dict) else None
    return GraphError(
        code=code,
        message=_as_str(error.get("message")) or f"(#{code})",
        details=details,
        error_type=_as_str(error.get("type")),
        subcode=errors.as_int(error.get("error_subcode")),
        fbtrace_id=_as_str(error.get("fbtrace_id")),
    )


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a non-2xx Graph response into the exception to raise."""
    graph = parse_graph_error(response.content)
    if graph is None:
        return errors.from_response(
            response, None, f"HTTP {response.status_code} without a readable Graph error body"
        )
    text = graph.message if graph.details is None else f"{graph.message}: {graph.details}"
    found = ServiceError(
        str(graph.code), errors.truncate(text), spec_for(graph.code), auth_statuses=()
    )
    return errors.from_response(response, found, "")


def error_from_transport(exc: httpx.HTTPError) -> ProviderError:
    """Translate an httpx failure (no usable response) into the exception to raise."""
    return errors.from_transport(exc, "Graph API")
