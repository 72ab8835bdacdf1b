"""The rig the WhatsApp end-to-end tests share: the WhatsApp Web simulator served on a free
port, each tenant's ``wppconnect`` integrations stored, tenant API keys, and real
``herald worker`` processes (router and whatsapp) started on settings pointing at the
simulator.

``start_rig`` (a fixture, conftest.py) starts one; ``served``, ``support_sessions``,
``moving_session_settings``, ``wppconnect_request`` and ``browser_manager`` serve the tests
that start their workers or session managers themselves (with ``tests.whatsapp_web.seed_integrations``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import orjson
from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis

from sandbox import serve_app
from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import Settings
from streams.whatsapp import SessionManager
from streams.whatsapp.browser import BrowserLauncher
from tests.helpers import WorkerProcess, consume_until
from tests.unit.whatsapp.fakes import Recorder


@asynccontextmanager
async def served(sim: WhatsAppWebSimulator) -> AsyncIterator[str]:
    """``sim`` served on a free loopback port (its URL yielded), closed after."""
    async with serve_app(sim.app, port=0) as url:
        try:
            yield url
        finally:
            await sim.close()


def browser_manager(
    settings: Settings, **options: Any
) -> tuple[BrowserLauncher, Recorder, SessionManager]:
    """A session manager driving real headless Chromium: its launcher, the recorder of its
    events and the manager (``options``: its token store, leases, ...)."""
    launcher = BrowserLauncher(settings)
    events = Recorder()
    manager = SessionManager(settings, driver_factory=launcher.factory, listener=events, **options)
    return launcher, events, manager


def moving_session_settings(
    settings_factory: Callable[..., Settings], url: str, **overrides: Any
) -> Settings:
    """Settings for sessions that move between whatsapp workers: WhatsApp Web at ``url``,
    logins kept in Redis, no pacing of sends and no closing of idle sessions."""
    values: dict[str, Any] = {
        "whatsapp_web_url": url,
        "wppconnect_enabled": True,
        "wppconnect_token_store": "redis",
        "wppconnect_send_rate": 0,
        "wppconnect_auto_close_ms": 0,
    }
    return settings_factory(**{**values, **overrides})


def wppconnect_request(nid: str, tenant: str, phone: str, body: str) -> dict[str, Any]:
    """A text notification request for ``phone``, sent through the tenant's WhatsApp Web
    session (``provider: wppconnect``)."""
    return {
        "id": nid,
        "tenantId": tenant,
        "channel": "whatsapp",
        "provider": "wppconnect",
        "recipient": {"phone": phone},
        "content": {"body": body},
    }


def support_sessions(
    tenants: Iterable[str], phone_number_id: Callable[[str], str] = lambda _: "wpp-1"
) -> dict[str, list[dict[str, Any]]]:
    """One default session per tenant, named ``<tenant>-support``."""
    return {
        tenant: [{"sessionName": f"{tenant}-support", "phoneNumberId": phone_number_id(tenant)}]
        for tenant in tenants
    }


@dataclass
class Rig:
    """A running rig: the settings the workers run on, the simulator, the router and
    whatsapp workers, Redis and each tenant's API key."""

    settings: Settings
    sim: WhatsAppWebSimulator
    router: WorkerProcess
    wa: WorkerProcess
    redis: Redis
    keys: dict[str, str] = field(default_factory=dict)

    #: how long ``records`` waits by default, in seconds
    wait_seconds: ClassVar[float] = 60

    async def records(
        self,
        topic: str,
        until: Callable[[list[dict[str, Any]]], object],
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """The topic's events (decoded) once ``until`` holds for them."""

        def done(records: list[ConsumerRecord]) -> bool:
            return bool(until([orjson.loads(r.value) for r in records]))

        wait = self.wait_seconds if timeout is None else timeout
        found = await consume_until(self.settings, topic, done, timeout=wait)
        return [orjson.loads(r.value) for r in found]


R = TypeVar("R", bound=Rig)
RigStarter = Callable[..., AbstractAsyncContextManager[Any]]
