"""HTTP transports the worker's shared client mounts for providers that need them.

The worker has one :class:`httpx.AsyncClient` (HTTP/1.1). A provider whose service
needs something else (APNs: HTTP/2 only) declares per-origin transports with
:meth:`Provider.http_mounts`; :func:`provider_mounts` gathers them, and the runtime
builds its client with ``httpx.AsyncClient(mounts=provider_mounts(settings), ...)``.
Providers keep receiving that one client; httpx routes each request by its origin.

:class:`ProviderClient` is that client. Given a :class:`~providers._direct.DirectPost`, it
sends a provider's plain body POST (``content=`` bytes, no per-call options, to an origin
no other transport is mounted for) straight through aiohttp, without httpx's model layer
(docs/performance.md); every other call, and every call while it is traced, goes through
httpx as before.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx

from providers._direct import DirectPost, client_timeout, merged_headers
from providers._http import parsed_url
from providers.registry import REGISTRY
from schemas.settings import Settings

__all__ = ["DirectPost", "ProviderClient", "provider_mounts"]


def provider_mounts(settings: Settings) -> dict[str, httpx.AsyncBaseTransport]:
    """Every implemented provider's mounts (the first provider naming an origin wins)."""
    mounts: dict[str, httpx.AsyncBaseTransport] = {}
    for cls in REGISTRY.values():
        for origin, transport in cls.http_mounts(settings).items():
            mounts.setdefault(origin, transport)
    return mounts


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing and adds nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class ProviderClient(httpx.AsyncClient):
    """The worker's one client for every provider call: httpx without a cookie jar.

    One client serves every tenant, so a cookie set by an answer to one tenant's call would
    go out with the next tenant's call to the same host; providers' APIs authenticate by
    key or token, never by cookie. Without a jar httpx also stops wrapping every request
    and response in urllib's cookie objects (a few percent of the router's CPU per request,
    docs/performance.md).

    ``direct``: plain body POSTs go through it (see the module doc); the client owns it
    and closes it. It takes no client-wide ``auth``, ``params``, ``base_url`` or event
    hooks (each would change such a call), and :meth:`httpx_only` turns it off (the
    tracing instrumentation wraps httpx's transports, so traced calls must take them).
    """

    def __init__(self, *, direct: DirectPost | None = None, **kwargs: Any) -> None:
        if kwargs.get("cookies"):
            raise ValueError("the providers' client keeps no cookies")
        if direct is not None:
            clashing = sorted({"auth", "params", "base_url", "event_hooks"} & kwargs.keys())
            if clashing:
                raise ValueError(f"a direct client takes no {', '.join(clashing)}")
        super().__init__(**kwargs)
        self._direct = direct
        self._owned = direct
        #: (scheme, host, port) -> whether the client's own transport serves that origin.
        self._own_origins: dict[tuple[str, str, int | None], bool] = {}

    def httpx_only(self) -> None:
        """From now on every call goes through httpx (and its transports)."""
        self._direct = None

    async def post(
        self,
        url: httpx.URL | str,
        *,
        content: Any = None,
        headers: Any = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,  # noqa: ASYNC109 - httpx's own signature
        **options: Any,
    ) -> httpx.Response:
        direct = self._direct
        if direct is not None and not options and isinstance(content, bytes):
            target = url if isinstance(url, httpx.URL) else parsed_url(url)
            if self._served_by_own_transport(target):
                return await direct.post(
                    target,
                    content,
                    merged_headers(self.headers.multi_items(), headers),
                    self._aiohttp_timeout(timeout),
                )
        return await super().post(url, content=content, headers=headers, timeout=timeout, **options)

    def _served_by_own_transport(self, url: httpx.URL) -> bool:
        """An absolute http(s) URL whose origin no mount (or proxy) takes over."""
        origin = (url.scheme, url.host, url.port)
        known = self._own_origins.get(origin)
        if known is None:
            known = url.scheme in ("http", "https") and url.host != ""
            known = known and self._transport_for_url(url) is self._transport
            self._own_origins[origin] = known
        return known

    def _aiohttp_timeout(self, timeout: Any) -> aiohttp.ClientTimeout:
        if timeout is httpx.USE_CLIENT_DEFAULT:
            phases = self.timeout
        elif isinstance(timeout, httpx.Timeout):
            phases = timeout
        else:
            phases = httpx.Timeout(timeout)
        return client_timeout(phases.connect, phases.read, phases.pool)

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            if self._owned is not None:
                await self._owned.aclose()

    @property
    def cookies(self) -> httpx.Cookies:
        return _NoCookies()

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        if cookies:
            raise ValueError("the providers' client keeps no cookies")
