"""A provider's body POST straight through aiohttp, without httpx's request/response models.

The worker's providers call one :class:`~providers.transports.ProviderClient`: httpx's API
over aiohttp's HTTP/1.1 engine (``httpx_aiohttp``). For each call httpx builds a
``Request`` (URL merge, ``Headers``, a byte stream), runs its auth and redirect machinery,
and the transport converts all of it to an aiohttp call and back; that model layer cost
about as much CPU as aiohttp's own work, the largest single part of the router's cost per
request (docs/performance.md). :class:`DirectPost` is the same call without it: the
headers merged into one case-insensitive mapping, aiohttp's request with the transport's
options (no redirects, no compression, the body left encoded for httpx to decode), and an
:class:`httpx.Response` built from the answer, so providers read it exactly as before.

What stays the same by construction: the connection pool (the transport and this share
one ``aiohttp.ClientSession``), the error translation (``httpx_aiohttp``'s own mapping of
aiohttp's exceptions to httpx's), the timeouts (httpx's connect/read/pool phases mapped as
the transport maps them) and the client's default headers. What differs: the response's
``request`` carries the method and URL only (never the caller's headers, so no
credentials), and ``elapsed`` is not set. :class:`~providers.transports.ProviderClient`
decides which calls may take this path (a ``bytes`` body, no per-call options, an origin
no other transport is mounted for, tracing off).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

import aiohttp
import httpx
import yarl
from httpx_aiohttp.transport import map_aiohttp_exceptions
from multidict import CIMultiDict

__all__ = ["DirectPost", "client_timeout", "merged_headers"]

_EXTENSIONS = {"http_version": b"HTTP/1.1"}


class DirectPost:
    """POSTs over one lazily created :class:`aiohttp.ClientSession` (see the module doc).

    ``limit``: the session's connection limit (the pool httpx's ``Limits`` would set).
    The session is made on first use, inside the running event loop; :meth:`session` is
    also what the ``AiohttpTransport`` of the same client is given, so both share it.
    """

    def __init__(self, *, limit: int = 100, keepalive_seconds: float | None = 5.0) -> None:
        self._limit = limit
        self._keepalive = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                keepalive_timeout=self._keepalive,
                ssl=httpx.create_ssl_context(),  # httpx's CA bundle, as the transport's
            )
            # No cookie jar: one session serves every tenant, and aiohttp's default jar
            # would send a cookie one tenant's answer set with the next tenant's call.
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def post(
        self,
        url: httpx.URL,
        content: bytes,
        headers: Mapping[str, str],
        phases: aiohttp.ClientTimeout,
    ) -> httpx.Response:
        session = self.session()
        with map_aiohttp_exceptions():
            async with session.post(
                _yarl(url),
                data=content or None,
                headers=headers,
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes, as for the transport's answers
                compress=False,
                timeout=phases,
            ) as answer:
                body = await answer.read()
        extensions = _EXTENSIONS
        if answer.reason:
            extensions = {**_EXTENSIONS, "reason_phrase": answer.reason.encode()}
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            content=body,
            request=_request(url),
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def merged_headers(
    defaults: Iterable[tuple[str, str]], headers: Mapping[str, str] | None
) -> CIMultiDict[str]:
    """The client's default headers overridden by the call's, compared without case (as
    httpx merges them)."""
    merged: CIMultiDict[str] = CIMultiDict(defaults)
    if headers:
        merged.update(headers)
    return merged


@functools.lru_cache(maxsize=64)
def client_timeout(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """httpx's timeout phases as ``httpx_aiohttp`` maps them to aiohttp's."""
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)


@functools.lru_cache(maxsize=4096)
def _yarl(url: httpx.URL) -> yarl.URL:
    return yarl.URL(str(url), encoded=True)


@functools.lru_cache(maxsize=4096)
def _request(url: httpx.URL) -> httpx.Request:
    """What a direct response says it answered: the method and URL, no headers."""
    return httpx.Request("POST", url)
