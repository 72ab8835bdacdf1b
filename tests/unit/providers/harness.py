"""The per-provider tests' shared harness: factories for a provider over a mocked HTTP
transport, the answer it gets, the error it raises, and the transport-failure cases.

Each provider's test module keeps only what is its own: its credentials, the request
its service must see (``check``) and its error table's expectations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from providers import Provider, ProviderError, ProviderTimeout, RetryableError
from schemas.notification import NotificationRequest
from tests.helpers import make_settings

__all__ = [
    "TRANSPORT_CASES",
    "answering",
    "assert_translated",
    "offline",
    "refusal",
]

Handler = Callable[[httpx.Request], httpx.Response]

#: httpx failures with no response, and what every provider must turn them into.
TRANSPORT_CASES = [
    pytest.param(httpx.ReadTimeout("slow"), ProviderTimeout, "provider_timeout", id="read"),
    pytest.param(httpx.ConnectTimeout("slow"), ProviderTimeout, "provider_timeout", id="conn"),
    pytest.param(httpx.ConnectError("refused"), RetryableError, "provider_unavailable", id="ref"),
    pytest.param(
        httpx.RemoteProtocolError("eof"), RetryableError, "provider_unavailable", id="eof"
    ),
]


def offline(
    cls: type[Provider[Any]], credentials: Any, handler: Handler | None = None, **settings: Any
) -> Any:
    """``cls`` with ``credentials`` over an httpx MockTransport (default answer: 500)."""
    transport = httpx.MockTransport(handler or (lambda request: httpx.Response(500)))
    client = httpx.AsyncClient(transport=transport)
    return cls(credentials, http=client, settings=make_settings(**settings))


def answering(
    answer: httpx.Response | Exception, check: Callable[[httpx.Request], None] | None = None
) -> Handler:
    """A handler that first checks the request the service got, then answers or raises."""

    def handler(request: httpx.Request) -> httpx.Response:
        if check is not None:
            check(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


async def refusal(provider: Provider[Any], request: NotificationRequest) -> ProviderError:
    """The :class:`ProviderError` ``provider.send(request)`` raises (it must raise one)."""
    with pytest.raises(ProviderError) as caught:
        await provider.send(request)
    return caught.value


def assert_translated(
    error: ProviderError, cause: Exception, expected: type[Exception], code: str
) -> None:
    """A transport failure became ``expected`` with ``code``, chained to its cause."""
    assert type(error) is expected
    assert error.code == code
    assert error.__cause__ is cause
