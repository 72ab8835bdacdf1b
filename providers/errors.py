"""What every HTTP provider shares to turn a service's failures into Herald's error tree.

A provider keeps only data: its table of documented errors (``code -> ErrorSpec``) and
how to read the service's error body. Everything else is here:

* :class:`ErrorSpec` -- one table entry, built with :meth:`ErrorSpec.retry`,
  :meth:`ErrorSpec.final` or :meth:`ErrorSpec.auth`, and turned into the exception with
  :meth:`ErrorSpec.error`;
* :func:`error_for` -- a service error code with its entry, or without one (then the
  HTTP status decides: 429 and 5xx retryable, the auth statuses ``InvalidCredentials``,
  the rest permanent);
* :func:`from_status` -- no readable error body at all: the status alone decides, with
  Herald's own codes (``rate_limited``, ``provider_unavailable``, ``auth_failed``...);
* :func:`from_transport` -- no response (timeout, connection refused);
* :func:`from_response` -- the whole translation of a failed response, given the
  :class:`ServiceError` the provider read from its body (or ``None``);
* :func:`retry_after`, :func:`json_field`, :func:`as_int`, :func:`truncate` -- lenient
  readers of foreign headers and bodies.

The exceptions themselves are in :mod:`schemas.errors` (the tree is drawn there).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from schemas.errors import (
    InvalidCredentials,
    PermanentError,
    ProviderError,
    ProviderTimeout,
    RetryableError,
)
from schemas.status import ErrorCode

__all__ = [
    "ErrorSpec",
    "ServiceError",
    "as_int",
    "error_for",
    "from_response",
    "from_status",
    "from_transport",
    "json_field",
    "retry_after",
    "truncate",
]

_DAY = 86_400


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """How Herald treats one documented error of a service.

    ``category`` is the Herald code that best names the failure (logs, docs);
    ``credentials`` marks errors meaning that the integration itself is wrong.
    """

    retryable: bool
    category: ErrorCode
    description: str
    credentials: bool = False

    @classmethod
    def retry(cls, category: ErrorCode, description: str) -> ErrorSpec:
        """Transient: the same request may succeed later."""
        return cls(True, category, description)

    @classmethod
    def final(cls, category: ErrorCode, description: str) -> ErrorSpec:
        """Permanent: retrying the same request cannot succeed."""
        return cls(False, category, description)

    @classmethod
    def auth(
        cls, description: str, category: ErrorCode = ErrorCode.INVALID_CREDENTIALS
    ) -> ErrorSpec:
        """The integration's credentials or configuration are wrong (permanent)."""
        return cls(False, category, description, credentials=True)

    def error(self, code: str, message: str, *, retry_after: float | None = None) -> ProviderError:
        """The exception this entry calls for; ``code`` (the service's) goes to ``error.code``."""
        if self.credentials:
            return InvalidCredentials(code, message, provider_code=code)
        if self.retryable:
            return RetryableError(code, message, retry_after=retry_after, provider_code=code)
        return PermanentError(code, message, provider_code=code)


def error_for(
    code: str,
    message: str,
    spec: ErrorSpec | None,
    *,
    status: int,
    retry_after: float | None = None,
    auth_statuses: Collection[int] = (401, 403),
    retryable: bool | None = None,
) -> ProviderError:
    """The exception for the service's error ``code``: its table entry if it has one.

    Without one, an HTTP status in ``auth_statuses`` means the credentials were refused;
    otherwise ``retryable`` decides (default: 429 and 5xx may succeed later).
    """
    if spec is None:
        if retryable is None:
            retryable = status == 429 or status >= 500
        spec = ErrorSpec(
            retryable, ErrorCode.PROVIDER_ERROR, "unlisted", credentials=status in auth_statuses
        )
    return spec.error(code, message, retry_after=retry_after)


def from_status(
    status: int,
    reason: str,
    *,
    retry_after: float | None = None,
    auth_statuses: Collection[int] = (401, 403),
) -> ProviderError:
    """No readable error body: the HTTP status alone decides, with Herald's own codes.

    429 -> ``rate_limited`` and 408/5xx -> ``provider_unavailable`` (both retryable),
    ``auth_statuses`` -> ``auth_failed`` (:class:`InvalidCredentials`), anything else
    -> ``provider_error`` (permanent). ``provider_code`` is ``http_<status>``.
    """
    provider_code = f"http_{status}"
    if status == 429 or status >= 500 or status == 408:
        code = ErrorCode.RATE_LIMITED if status == 429 else ErrorCode.PROVIDER_UNAVAILABLE
        return RetryableError(
            code.value, reason, retry_after=retry_after, provider_code=provider_code
        )
    if status in auth_statuses:
        return InvalidCredentials(ErrorCode.AUTH_FAILED.value, reason, provider_code=provider_code)
    return PermanentError(ErrorCode.PROVIDER_ERROR.value, reason, provider_code=provider_code)


def from_transport(exc: httpx.HTTPError, service: str) -> ProviderError:
    """An httpx failure with no usable response: a timeout, or the service unreachable."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"{service} did not answer in time ({type(exc).__name__})")
    return RetryableError(
        ErrorCode.PROVIDER_UNAVAILABLE.value, f"{service} unreachable ({type(exc).__name__})"
    )


def retry_after(headers: httpx.Headers, *, reset_header: str | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or an HTTP date) or ``reset_header``.

    ``reset_header`` names a header carrying the unix time of the reset (SendGrid's
    ``X-RateLimit-Reset``), read when ``Retry-After`` is absent or unreadable. A date in
    the past means "now" (0); a negative number, an unreadable value or a wait of a day
    or more means no advice (``None``).
    """
    now = time.time()
    seconds: float | None = None
    raw = headers.get("retry-after")
    if raw is not None:
        try:
            seconds = float(raw.strip())
        except ValueError:
            try:
                seconds = max(parsedate_to_datetime(raw).timestamp() - now, 0.0)
            except (TypeError, ValueError, IndexError):
                seconds = None
    if seconds is None and reset_header is not None:
        reset = headers.get(reset_header)
        try:
            seconds = max(float(reset) - now, 0.0) if reset is not None else None
        except ValueError:
            seconds = None
    if seconds is None or not 0 <= seconds < _DAY:
        return None
    return seconds


def as_int(value: Any) -> int | None:
    """An int from an int or a digit string (booleans are not numbers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def truncate(text: str, limit: int = 500) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_field(body: bytes, key: str | None = None) -> Any:
    """The JSON document in ``body``, or its ``key`` member when it is an object.

    ``None`` when the body is not JSON, or is not an object holding ``key``: error bodies
    come from proxies and load balancers too, and are read leniently.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if key is None:
        return data
    return data.get(key) if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class ServiceError:
    """A service's error as its provider read it from a response body.

    ``code`` goes to ``error.code``; ``spec`` is its table entry if it has one; without one,
    ``auth_statuses`` and ``retryable`` say how the HTTP status decides (see :func:`error_for`).
    """

    code: str
    message: str
    spec: ErrorSpec | None = None
    auth_statuses: Collection[int] = (401, 403)
    retryable: bool | None = None


def from_response(
    response: httpx.Response,
    error: ServiceError | None,
    unreadable: str,
    *,
    reset_header: str | None = None,
) -> ProviderError:
    """The exception for a failed response: ``error`` if the body said one, else the status.

    ``unreadable`` is the message when the body is not the service's error (``HTTP 502
    without a readable ... body``); ``reset_header`` as in :func:`retry_after`.
    """
    wait = retry_after(response.headers, reset_header=reset_header)
    status = response.status_code
    if error is None:
        return from_status(status, unreadable, retry_after=wait)
    return error_for(
        error.code,
        error.message,
        error.spec,
        status=status,
        retry_after=wait,
        auth_statuses=error.auth_statuses,
        retryable=error.retryable,
    )
