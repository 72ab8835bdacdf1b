"""HTTP transports the worker's shared client mounts for providers that need them.

The worker has one :class:`httpx.AsyncClient` (HTTP/1.1). A provider whose service
needs something else (APNs: HTTP/2 only) declares per-origin transports with
:meth:`Provider.http_mounts`; :func:`provider_mounts` gathers them, and the runtime
builds its client with ``httpx.AsyncClient(mounts=provider_mounts(settings), ...)``.
Providers keep receiving that one client; httpx routes each request by its origin.
"""

from __future__ import annotations

import httpx

from providers.registry import REGISTRY
from schemas.settings import Settings

__all__ = ["provider_mounts"]


def provider_mounts(settings: Settings) -> dict[str, httpx.AsyncBaseTransport]:
    """Every implemented provider's mounts (the first provider naming an origin wins)."""
    mounts: dict[str, httpx.AsyncBaseTransport] = {}
    for cls in REGISTRY.values():
        for origin, transport in cls.http_mounts(settings).items():
            mounts.setdefault(origin, transport)
    return mounts
