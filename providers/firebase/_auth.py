"""OAuth 2.0 access tokens for FCM, from a service account, through google-auth.

google-auth builds and signs the JWT assertion and speaks the token endpoint's
``urn:ietf:params:oauth:grant-type:jwt-bearer`` grant; its refresh is synchronous, so it
runs in a thread (:func:`asyncio.to_thread`). Its HTTP goes through
:class:`_LoopTransport`, a google-auth transport that runs each request on the worker's
shared :class:`httpx.AsyncClient` back on the event loop: one HTTP stack, one set of
timeouts, and no ``requests`` dependency.

:class:`AccessTokenCache` keeps one token per service account (process-wide by default)
until :data:`REFRESH_MARGIN` seconds before it expires; concurrent sends share one
refresh. :meth:`AccessTokenCache.refresh` replaces a token FCM refused (401).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import google.auth.exceptions
import google.auth.transport
import httpx
from google.oauth2 import service_account

from schemas.errors import InvalidCredentials, ProviderTimeout, RetryableError
from schemas.status import ErrorCode

__all__ = [
    "DEFAULT_ACCESS_TOKENS",
    "FCM_SCOPE",
    "REFRESH_MARGIN",
    "AccessToken",
    "AccessTokenCache",
    "fetch_access_token",
]

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
#: A cached token is replaced this many seconds before it expires.
REFRESH_MARGIN = 300.0


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    expires_at: float  # Unix seconds, by the cache's clock


class _Response(google.auth.transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class _LoopTransport(google.auth.transport.Request):
    """google-auth's transport interface, run on ``http`` in ``loop`` from a worker thread."""

    def __init__(
        self, http: httpx.AsyncClient, loop: asyncio.AbstractEventLoop, time_limit: float
    ) -> None:
        self._http = http
        self._loop = loop
        self._timeout = time_limit

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        seconds = timeout if timeout is not None else self._timeout
        call = self._http.request(
            method, url, content=body, headers=dict(headers or {}), timeout=seconds
        )
        future = asyncio.run_coroutine_threadsafe(call, self._loop)
        try:
            return _Response(future.result(seconds + 1.0))
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call]
                "token endpoint timed out"
            ) from exc
        except httpx.HTTPError as exc:
            raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call]
                type(exc).__name__
            ) from exc


def _lifetime(expiry: datetime | None) -> float:
    """Seconds until google-auth's ``expiry`` (a naive UTC datetime); 1 hour if unknown."""
    if expiry is None:
        return 3600.0
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    return (expiry - datetime.now(UTC)).total_seconds()


async def fetch_access_token(
    info: Mapping[str, Any],
    *,
    http: httpx.AsyncClient,
    time_limit: float,
    clock: Callable[[], float] = time.time,
) -> AccessToken:
    """Exchange a signed assertion for an access token at ``info["token_uri"]``.

    :class:`InvalidCredentials` when the key is unusable or the endpoint refuses it,
    :class:`RetryableError` / :class:`ProviderTimeout` when the endpoint is unavailable.
    """
    try:
        credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            dict(info), scopes=[FCM_SCOPE]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCredentials(
            ErrorCode.INVALID_CREDENTIALS.value,
            f"the service account cannot sign ({type(exc).__name__})",
        ) from exc
    transport = _LoopTransport(http, asyncio.get_running_loop(), time_limit)
    try:
        async with asyncio.timeout(time_limit * 4 + 2):  # google-auth retries 5xx itself
            await asyncio.to_thread(credentials.refresh, transport)
    except TimeoutError as exc:
        raise ProviderTimeout("the OAuth 2.0 token endpoint did not answer in time") from exc
    except google.auth.exceptions.RefreshError as exc:
        detail = str(exc.args[0]) if exc.args else "refused"
        if getattr(exc, "retryable", False):
            raise RetryableError(
                ErrorCode.PROVIDER_UNAVAILABLE.value, f"token endpoint unavailable: {detail}"[:300]
            ) from exc
        raise InvalidCredentials(
            ErrorCode.INVALID_CREDENTIALS.value,
            f"the token endpoint refused the service account: {detail}"[:300],
        ) from exc
    except google.auth.exceptions.TransportError as exc:
        if "timed out" in str(exc) or isinstance(exc.__cause__, httpx.TimeoutException):
            raise ProviderTimeout("the OAuth 2.0 token endpoint did not answer in time") from exc
        raise RetryableError(
            ErrorCode.PROVIDER_UNAVAILABLE.value, f"token endpoint unreachable ({exc})"[:300]
        ) from exc
    token = credentials.token
    if not isinstance(token, str) or not token:
        raise RetryableError(
            ErrorCode.PROVIDER_UNAVAILABLE.value, "the token endpoint answered no access token"
        )
    return AccessToken(token, clock() + _lifetime(credentials.expiry))


def account_key(info: Mapping[str, Any]) -> tuple[str, str, str]:
    """Cache key of a service account: (client_email, token_uri, key digest)."""
    digest = hashlib.sha256(str(info.get("private_key", "")).encode()).hexdigest()
    return (str(info.get("client_email", "")), str(info.get("token_uri", "")), digest)


class AccessTokenCache:
    """Access tokens per service account, shared by every send of the process.

    ``clock`` returns Unix seconds (injectable for tests); ``fetches`` counts the tokens
    obtained so far.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.time, margin: float = REFRESH_MARGIN
    ) -> None:
        self.clock = clock
        self.margin = margin
        self.fetches = 0
        self._tokens: dict[tuple[str, str, str], AccessToken] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    def _fresh(self, token: AccessToken | None) -> bool:
        return token is not None and token.expires_at - self.margin > self.clock()

    async def get(
        self, info: Mapping[str, Any], *, http: httpx.AsyncClient, time_limit: float
    ) -> str:
        """A valid access token for the account, fetching one if needed."""
        key = account_key(info)
        cached = self._tokens.get(key)
        if cached is not None and self._fresh(cached):
            return cached.value
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached is not None and self._fresh(cached):
                return cached.value
            return await self._fetch(key, info, http=http, time_limit=time_limit)

    async def refresh(
        self, info: Mapping[str, Any], stale: str, *, http: httpx.AsyncClient, time_limit: float
    ) -> str:
        """A new token after ``stale`` was refused (unless another send already replaced it)."""
        key = account_key(info)
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached is not None and cached.value != stale and self._fresh(cached):
                return cached.value
            self._tokens.pop(key, None)
            return await self._fetch(key, info, http=http, time_limit=time_limit)

    async def _fetch(
        self,
        key: tuple[str, str, str],
        info: Mapping[str, Any],
        *,
        http: httpx.AsyncClient,
        time_limit: float,
    ) -> str:
        token = await fetch_access_token(info, http=http, time_limit=time_limit, clock=self.clock)
        self.fetches += 1
        self._tokens[key] = token
        return token.value


#: The process-wide cache providers use unless one is injected.
DEFAULT_ACCESS_TOKENS = AccessTokenCache()
