"""The one HTTP call every HTTP provider makes, with its failures translated.

:func:`post` bounds the whole call by ``timeout`` seconds (not only each httpx phase),
turns transport failures into :class:`~schemas.errors.ProviderTimeout` /
:class:`~schemas.errors.RetryableError`, and a non-2xx answer into whatever the provider's
``errors`` function says (its table, through :mod:`providers.errors`), logging each with
the caller's ``log_extra`` (tenant, notification, provider; never a secret).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from providers.errors import from_transport
from schemas.errors import ProviderError, ProviderTimeout, RetryableError
from schemas.status import ErrorCode

__all__ = ["log_refusal", "parsed_url", "post", "unreadable"]

logger = logging.getLogger(__name__)


async def post(
    http: httpx.AsyncClient,
    url: str,
    *,
    service: str,
    timeout: float,  # noqa: ASYNC109 - an httpx timeout and the overall deadline
    log_extra: Mapping[str, Any],
    errors: Callable[[httpx.Response], ProviderError] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """POST within ``timeout`` seconds overall; the response, or a provider error.

    Without ``errors`` a non-2xx response is returned as it is.
    """
    try:
        async with asyncio.timeout(timeout):
            response = await http.post(parsed_url(url), timeout=_timeout(timeout), **kwargs)
    except TimeoutError as exc:  # the overall deadline, not one httpx phase
        logger.warning(f"{service} call timed out", extra=dict(log_extra))
        raise ProviderTimeout(f"{service} did not answer within {timeout:g}s") from exc
    except httpx.HTTPError as exc:
        logger.warning(f"{service} call failed", extra={**log_extra, "error": type(exc).__name__})
        raise from_transport(exc, service) from exc
    if errors is not None and not response.is_success:
        error = errors(response)
        log_refusal(f"{service} refused the request", log_extra, response, error)
        raise error
    return response


@functools.lru_cache(maxsize=4096)
def parsed_url(url: str) -> httpx.URL:
    """``url`` parsed once: httpx parses (and validates) a string URL on every request,
    the largest part of its own cost per call (docs/performance.md). A provider's URLs
    are a few per tenant (a base, an account or phone-number id, a path)."""
    return httpx.URL(url)


@functools.lru_cache(maxsize=64)
def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds)


def log_refusal(
    message: str, log_extra: Mapping[str, Any], response: httpx.Response, error: ProviderError
) -> None:
    """Log a service's refusal: its HTTP status and the error Herald made of it."""
    logger.warning(
        message,
        extra={
            **log_extra,
            "http_status": response.status_code,
            "error_code": error.code,
            "retryable": error.retryable,
        },
    )


def unreadable(service: str, response: httpx.Response, what: str) -> RetryableError:
    """A 2xx answer Herald cannot read (``what``: "a message id"): retryable, like a 5xx."""
    status = response.status_code
    return RetryableError(
        ErrorCode.PROVIDER_UNAVAILABLE.value,
        f"{service} answered HTTP {status} without {what}",
        provider_code=f"http_{status}",
    )
