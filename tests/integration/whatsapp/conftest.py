"""Fixtures of the WhatsApp integration tests: ``start_rig`` (the rig: rig.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import Settings
from streams.tenancy.auth import TenantKeys
from tests.helpers import WorkerProcess
from tests.integration.whatsapp.rig import R, RigStarter, served
from tests.whatsapp_web import Sessions, seed_integrations


@pytest.fixture
def start_rig(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Awaitable[WorkerProcess]],
    redis: Redis,
    tmp_path: Path,
) -> RigStarter:
    """``start_rig(rig_type, sim, sessions, *, whatsapp_first=False, **settings)``.

    Serves ``sim``, makes settings with WhatsApp Web on, pointed at it and a token folder
    in the test's directory (``settings`` override them), stores ``sessions``, creates an
    API key per tenant of ``sessions``, starts the router and whatsapp workers (the
    whatsapp one first with ``whatsapp_first``) and yields a ``rig_type``; stops them
    in the reverse order and closes the simulator.
    """

    @asynccontextmanager
    async def start(
        rig_type: type[R],
        sim: WhatsAppWebSimulator,
        sessions: Sessions,
        *,
        whatsapp_first: bool = False,
        **overrides: Any,
    ) -> AsyncIterator[R]:
        async with served(sim) as url:
            values: dict[str, Any] = {
                "whatsapp_web_url": url,
                "wppconnect_enabled": True,
                "wppconnect_token_folder": str(tmp_path / "tokens"),
            }
            settings = settings_factory(**{**values, **overrides})
            await seed_integrations(redis, settings, sessions)
            keys = {t: (await TenantKeys(redis).create(t))[0] for t in sessions}
            if whatsapp_first:
                wa = await worker_factory(settings, role="whatsapp")
                router = await worker_factory(settings)
            else:
                router = await worker_factory(settings)
                wa = await worker_factory(settings, role="whatsapp")
            try:
                yield rig_type(settings, sim, router, wa, redis, keys)
            finally:
                for worker in (router, wa) if whatsapp_first else (wa, router):
                    await worker.stop()

    return start
