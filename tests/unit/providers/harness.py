"""The per-provider tests' shared harness: request factories, a clock, factories for a
provider over a mocked HTTP transport, the answer it gets, the error it raises, and the
tests every HTTP provider runs on its error handling (the fallback on the HTTP status, the
transport failures, the error table's declared classes).

Each provider's test module keeps only what is its own: its credentials, the request
its service must see (``check``) and its error table's expectations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from providers import (
    InvalidCredentials,
    PermanentError,
    Provider,
    ProviderError,
    ProviderTimeout,
    RetryableError,
)
from schemas.notification import NotificationRequest
from streams.platform.embedded import find_free_port
from tests.helpers import make_settings

__all__ = [
    "FROM_STATUS_CASES",
    "T0",
    "TRANSPORT_CASES",
    "Clock",
    "answering",
    "assert_declared",
    "assert_translated",
    "fallback_test",
    "notification",
    "offline",
    "push_request",
    "refusal",
    "transport_test",
    "unreachable_url",
]

Handler = Callable[[httpx.Request], httpx.Response]
#: A test module's ``send_against``: the error one send raises when the service answers so.
SendAgainst = Callable[[httpx.Response | Exception], Awaitable[ProviderError]]

T0 = 1_800_000_000.0


class Clock:
    """An injectable clock (Unix seconds) that only moves when told."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def unreachable_url() -> str:
    """A loopback URL where nothing listens."""
    return f"http://127.0.0.1:{find_free_port()}"


def notification(
    channel: str, recipient: dict[str, Any], content: dict[str, Any], **fields: Any
) -> NotificationRequest:
    """A request of tenant ``acme`` (id ``n-1`` unless ``fields`` name another)."""
    return NotificationRequest.model_validate(
        {
            "id": "n-1",
            "tenantId": "acme",
            "channel": channel,
            "recipient": recipient,
            "content": content,
            **fields,
        }
    )


def push_request(
    content: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    metadata: dict[str, Any] | None = None,
    **fields: Any,
) -> NotificationRequest:
    """A push request to device ``token`` (to user ``u-1`` when none is given)."""
    recipient = {"deviceToken": token} if token is not None else {"userId": "u-1"}
    content = content if content is not None else {}
    return notification("fcm", recipient, content, metadata=metadata or {}, **fields)


#: httpx failures with no response, and what every provider must turn them into.
TRANSPORT_CASES = [
    pytest.param(httpx.ReadTimeout("slow"), ProviderTimeout, "provider_timeout", id="read"),
    pytest.param(httpx.ConnectTimeout("slow"), ProviderTimeout, "provider_timeout", id="conn"),
    pytest.param(httpx.ConnectError("refused"), RetryableError, "provider_unavailable", id="ref"),
    pytest.param(
        httpx.RemoteProtocolError("eof"), RetryableError, "provider_unavailable", id="eof"
    ),
]


#: Unreadable answers that only the HTTP status decides (``providers.errors.from_status``),
#: as ``fallback_test`` cases: 5xx and 429 retryable, 401 bad credentials, other 4xx permanent.
FROM_STATUS_CASES: list[tuple[int, bytes, type[Exception], str]] = [
    (500, b"<html>", RetryableError, "provider_unavailable"),
    (429, b"slow down", RetryableError, "rate_limited"),
    (401, b"no", InvalidCredentials, "auth_failed"),
    (404, b"not found", PermanentError, "provider_error"),
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


def assert_declared(error: ProviderError, spec: Any) -> None:
    """``error`` is retryable, permanent and a credentials error as its table entry says."""
    assert isinstance(error, RetryableError if spec.retryable else PermanentError)
    assert isinstance(error, InvalidCredentials) == spec.credentials


def fallback_test(
    send_against: SendAgainst, cases: list[tuple[int, bytes, type[Exception], str]]
) -> Callable[..., Awaitable[None]]:
    """The test that each ``(status, body)`` answer the error table does not list ends
    as the error type ``expected`` with ``code`` (the fallback on the HTTP status)."""

    @pytest.mark.parametrize(("status", "body", "expected", "code"), cases)
    async def test(status: int, body: bytes, expected: type[Exception], code: str) -> None:
        error = await send_against(httpx.Response(status, content=body))
        assert type(error) is expected
        assert error.code == code

    return test


def transport_test(send_against: SendAgainst) -> Callable[..., Awaitable[None]]:
    """The test that every :data:`TRANSPORT_CASES` failure is translated and chained."""

    @pytest.mark.parametrize(("exc", "expected", "code"), TRANSPORT_CASES)
    async def test(exc: Exception, expected: type[Exception], code: str) -> None:
        assert_translated(await send_against(exc), exc, expected, code)

    return test
