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
import orjson

from providers._parsing import as_int as _as_int
from providers._parsing import retry_after as _retry_after
from providers._parsing import truncate as _truncate
from schemas.errors import (
    InvalidCredentials,
    PermanentError,
    ProviderError,
    ProviderTimeout,
    RetryableError,
)
from schemas.status import ErrorCode

__all__ = [
    "GRAPH_ERRORS",
    "GraphError",
    "GraphErrorSpec",
    "error_from_response",
    "error_from_transport",
    "parse_graph_error",
    "spec_for",
]


@dataclass(frozen=True, slots=True)
class GraphErrorSpec:
    """How Herald treats one Graph error code.

    ``category`` is the Herald code that best names the failure (for logs and
    metrics); ``credentials`` marks codes meaning the integration itself is wrong.
    """

    retryable: bool
    category: ErrorCode
    description: str
    credentials: bool = False


def _retry(category: ErrorCode, description: str) -> GraphErrorSpec:
    return GraphErrorSpec(True, category, description)


def _final(category: ErrorCode, description: str) -> GraphErrorSpec:
    return GraphErrorSpec(False, category, description)


def _auth(description: str) -> GraphErrorSpec:
    return GraphErrorSpec(False, ErrorCode.AUTH_FAILED, description, credentials=True)


_E = ErrorCode

#: Meta's documented Cloud API error codes -> retryability and meaning.
GRAPH_ERRORS: Mapping[int, GraphErrorSpec] = {
    # Authorization
    0: _auth("AuthException: the app user could not be authenticated"),
    3: _auth("API method: capability or permission missing"),
    10: _auth("Permission denied"),
    190: GraphErrorSpec(
        False, _E.INVALID_CREDENTIALS, "Access token invalid or expired", credentials=True
    ),
    200: _auth("API permission missing"),
    131005: _auth("Access denied: permission not granted or removed"),
    # Throttling
    4: _retry(_E.RATE_LIMITED, "Too many API calls for the app"),
    80007: _retry(_E.RATE_LIMITED, "WhatsApp Business Account rate limit hit"),
    130429: _retry(_E.RATE_LIMITED, "Cloud API throughput limit hit"),
    131048: _retry(_E.RATE_LIMITED, "Spam rate limit hit"),
    131056: _retry(_E.RATE_LIMITED, "Business/consumer pair rate limit hit"),
    # Service availability
    1: _retry(_E.PROVIDER_UNAVAILABLE, "API unknown: invalid request or possible server error"),
    2: _retry(_E.PROVIDER_UNAVAILABLE, "API service temporarily unavailable"),
    131000: _retry(_E.PROVIDER_UNAVAILABLE, "Something went wrong sending the message"),
    131016: _retry(_E.PROVIDER_UNAVAILABLE, "Service temporarily unavailable"),
    131057: _retry(_E.PROVIDER_UNAVAILABLE, "Business account in maintenance mode"),
    133004: _retry(_E.PROVIDER_UNAVAILABLE, "Server temporarily unavailable"),
    # Integrity and account state
    368: _final(_E.PROVIDER_INACTIVE, "Temporarily blocked for policy violations"),
    130497: _final(_E.PROVIDER_INACTIVE, "Business account restricted in this country"),
    131031: _final(_E.PROVIDER_INACTIVE, "Business account locked"),
    131037: _final(_E.PROVIDER_INACTIVE, "Display name not approved"),
    131042: _final(_E.PROVIDER_INACTIVE, "Business eligibility payment issue"),
    131045: _final(_E.PROVIDER_INACTIVE, "Phone number registration certificate incorrect"),
    133000: _final(_E.PROVIDER_INACTIVE, "Incomplete phone number deregistration"),
    133010: _final(_E.PROVIDER_INACTIVE, "Business phone number not registered"),
    # The request or its recipient
    100: _final(_E.INVALID_REQUEST, "Invalid parameter"),
    130472: _final(_E.INVALID_RECIPIENT, "Recipient is part of a Meta experiment"),
    131008: _final(_E.INVALID_REQUEST, "Required parameter missing"),
    131009: _final(_E.INVALID_REQUEST, "Parameter value not valid"),
    131021: _final(_E.INVALID_RECIPIENT, "Recipient cannot be the sender"),
    131026: _final(_E.INVALID_RECIPIENT, "Message undeliverable"),
    131030: _final(_E.INVALID_RECIPIENT, "Recipient not in the test number's allowed list"),
    131047: _final(_E.INVALID_RECIPIENT, "Re-engagement needed: 24-hour window closed"),
    131049: _final(_E.INVALID_RECIPIENT, "Not delivered to keep engagement healthy"),
    131050: _final(_E.INVALID_RECIPIENT, "Recipient stopped marketing messages"),
    131051: _final(_E.UNSUPPORTED_CONTENT, "Unsupported message type"),
    131052: _final(_E.UNSUPPORTED_CONTENT, "Media download error"),
    131053: _final(_E.UNSUPPORTED_CONTENT, "Media upload error"),
    132000: _final(_E.INVALID_REQUEST, "Template parameter count mismatch"),
    132001: _final(_E.INVALID_REQUEST, "Template does not exist"),
    132005: _final(_E.INVALID_REQUEST, "Template hydrated text too long"),
    132007: _final(_E.INVALID_REQUEST, "Template format character policy violated"),
    132012: _final(_E.INVALID_REQUEST, "Template parameter format mismatch"),
    132015: _final(_E.INVALID_REQUEST, "Template is paused"),
    132016: _final(_E.INVALID_REQUEST, "Template is disabled"),
    135000: _final(_E.INVALID_REQUEST, "Generic user error"),
}


def spec_for(code: int) -> GraphErrorSpec | None:
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
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    code = _as_int(error.get("code"))
    if code is None:
        return None
    error_data = error.get("error_data")
    details = _as_str(error_data.get("details")) if isinstance(error_data, dict) else None
    return GraphError(
        code=code,
        message=_as_str(error.get("message")) or f"(#{code})",
        details=details,
        error_type=_as_str(error.get("type")),
        subcode=_as_int(error.get("error_subcode")),
        fbtrace_id=_as_str(error.get("fbtrace_id")),
    )


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a non-2xx Graph response into the exception to raise."""
    status = response.status_code
    retry_after = _retry_after(response.headers)
    graph = parse_graph_error(response.content)
    if graph is None:
        return _from_status(status, retry_after)

    code = str(graph.code)
    message = graph.message if graph.details is None else f"{graph.message}: {graph.details}"
    message = _truncate(message)
    spec = spec_for(graph.code)
    if spec is None:
        retryable = status >= 500 or status == 429
    elif spec.credentials:
        return InvalidCredentials(code, message, provider_code=code)
    else:
        retryable = spec.retryable
    if retryable:
        return RetryableError(code, message, retry_after=retry_after, provider_code=code)
    return PermanentError(code, message, provider_code=code)


def _from_status(status: int, retry_after: float | None) -> ProviderError:
    """No readable Graph error: decide by the HTTP status alone."""
    reason = f"HTTP {status} without a readable Graph error body"
    provider_code = f"http_{status}"
    if status == 429:
        return RetryableError(
            ErrorCode.RATE_LIMITED.value,
            reason,
            retry_after=retry_after,
            provider_code=provider_code,
        )
    if status >= 500 or status == 408:
        return RetryableError(
            ErrorCode.PROVIDER_UNAVAILABLE.value,
            reason,
            retry_after=retry_after,
            provider_code=provider_code,
        )
    if status in (401, 403):
        return InvalidCredentials(ErrorCode.AUTH_FAILED.value, reason, provider_code=provider_code)
    return PermanentError("provider_error", reason, provider_code=provider_code)


def error_from_transport(exc: httpx.HTTPError) -> ProviderError:
    """Translate an httpx failure (no usable response) into the exception to raise."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"Graph API did not answer in time ({type(exc).__name__})")
    return RetryableError(
        ErrorCode.PROVIDER_UNAVAILABLE.value, f"Graph API unreachable ({type(exc).__name__})"
    )
