"""HTTP transports the worker's shared client mounts for providers that need them.

The worker has one :class:`httpx.AsyncClient` (HTTP/1.1). A provider whose service
needs something else (APNs: HTTP/2 only) declares per-origin transports with
:meth:`Provider.http_mounts`; :func:`provider_mounts` gathers them, and the runtime
builds its client with ``httpx.AsyncClient(mounts=provider_mounts(settings), ...)``.
Providers keep receiving that one client; httpx routes each request by its origin.
"""

from __future__ import annotations

from typing import Any

import httpx

from providers.registry import REGISTRY
from schemas.settings import Settings

__all__ = ["ProviderClient", "provider_mounts"]


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
    """

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("cookies"):
            raise ValueError("the providers' client keeps no cookies")
        super().__init__(**kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return _NoCookies()

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        if cookies:
            raise ValueError("the providers' client keeps no cookies")
