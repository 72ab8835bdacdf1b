"""The session endpoints over a real Redis, as the tests of their logic build them (no
broker, no browser): API keys of tenants ``acme`` and ``globex``, a token bucket and a
session store in Redis."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from schemas.whatsapp import SessionCommand
from streams.pipeline.ratelimit import TokenBucket
from streams.tenancy.auth import TenantKeys
from streams.tenancy.crypto import Cipher
from streams.whatsapp import SessionEndpoints, SessionStore

__all__ = ["KeyedEndpoints", "bearer", "keyed_endpoints", "worker_store"]


def bearer(key: str) -> dict[str, str]:
    """The headers of a request made with API key ``key``."""
    return {"Authorization": f"Bearer {key}"}


def worker_store(redis: Redis, cipher: Cipher | None = None) -> SessionStore:
    """The session store of ``worker-1``, sealed with ``cipher`` (else a new random key)."""
    return SessionStore(redis, owner="worker-1", cipher=cipher or Cipher(os.urandom(32)))


#: The endpoints and each tenant's API key.
KeyedEndpoints = tuple[SessionEndpoints, dict[str, str]]


async def keyed_endpoints(
    redis: Redis,
    store: SessionStore,
    commands: Callable[[SessionCommand], Awaitable[None]],
    **options: Any,
) -> KeyedEndpoints:
    """The session endpoints over ``store``, producing commands with ``commands``
    (``options`` go to ``SessionEndpoints``), and a new API key for acme and globex."""
    keys = TenantKeys(redis)
    created = {t: (await keys.create(t))[0] for t in ("acme", "globex")}
    endpoints = SessionEndpoints(
        keys=keys, bucket=TokenBucket(redis), store=store, commands=commands, **options
    )
    return endpoints, created
