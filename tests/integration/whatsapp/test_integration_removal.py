"""Removing a tenant's ``wppconnect`` integration logs its session out and deletes what is
kept of it: on the worker running it (the phone's linked device goes too), and for a
session no worker runs (its archive and Redis keys). Real Chromium, the simulator, Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas.status import utcnow
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from streams.whatsapp.lease import LeaseManager
from streams.whatsapp.manager import options_for
from streams.whatsapp.removal import RemovalFollower
from streams.whatsapp.store import SessionStore, qr_key, session_key
from streams.whatsapp.tokens import RedisTokenStore, token_key, tombstone_key
from tests.browser import require_chromium
from tests.helpers import make_settings, new_secret_key
from tests.integration.whatsapp.rig import browser_manager, served

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ACME, GLOBEX = "5511988887777", "5511977776666"
CREDENTIALS = {"sessionName": "main", "phoneNumberId": "p"}


class Worker:
    def __init__(self, url: str, redis: Redis, folder: Path) -> None:
        self.settings = make_settings(
            whatsapp_web_url=url,
            wppconnect_token_store="redis",
            wppconnect_token_folder=str(folder),
            wppconnect_call_timeout_seconds=30.0,
            wppconnect_send_rate=0,
            secret_key=new_secret_key(),
        )
        cipher = Cipher.from_settings(self.settings)
        self.tokens = RedisTokenStore(folder, redis, cipher)
        self.launcher, self.events, self.manager = browser_manager(
            self.settings,
            tokens=self.tokens,
            leases=LeaseManager(redis, "worker-1", ttl_ms=120_000),  # no renewals here
        )
        self.store = SessionStore(redis, owner="worker-1", cipher=cipher)
        self.integrations = IntegrationStore(redis, cipher)
        self.removals = RemovalFollower(redis, self.integrations, self.manager, self.store)

    async def pair(self, sim: WhatsAppWebSimulator, tenant: str, phone: str) -> None:
        await self.integrations.set(tenant, "wppconnect", CREDENTIALS, is_default=True)
        await self.manager.ensure(tenant, options_for(self.settings, None))
        await self.events.wait(lambda r: any(t == tenant for t, _ in r.qrs), 60)
        code = [qr for t, qr in self.events.qrs if t == tenant][-1].url_code
        await sim.scan(code, phone)
        await self.events.wait(lambda r: "inChat" in r.status_names(tenant), 60)
        await self.manager.drain_background()  # the after-login archive
        # What the worker's listener writes for the session (the events are a Recorder here).
        await self.store.record_status(tenant, f"tenant-{tenant}", "inChat", phone=phone)
        qr = [qr for t, qr in self.events.qrs if t == tenant][-1]
        lasting = qr.model_copy(update={"expires_at": utcnow() + timedelta(hours=1)})
        await self.store.put_qr(tenant, lasting, 3_600_000)


@pytest_asyncio.fixture
async def world(redis: Redis, tmp_path: Path) -> AsyncIterator[tuple[WhatsAppWebSimulator, Worker]]:
    require_chromium()
    sim = WhatsAppWebSimulator(qr_interval=60)
    async with served(sim) as url:
        worker = Worker(url, redis, tmp_path / "tokens")
        try:
            yield sim, worker
        finally:
            await worker.manager.close_all()
            await worker.launcher.stop()


def linked(sim: WhatsAppWebSimulator, phone: str) -> bool:
    return any(d.phone == phone for d in sim.devices.values())


async def test_removing_the_integration_logs_out_and_deletes_everything(
    world: tuple[WhatsAppWebSimulator, Worker], redis: Redis
) -> None:
    sim, worker = world
    await worker.pair(sim, "acme", ACME)  # runs on this worker
    await worker.pair(sim, "globex", GLOBEX)
    await worker.manager.close("globex")  # disconnected: archived, not running anywhere
    await worker.manager.drain_background()
    assert linked(sim, ACME)
    assert linked(sim, GLOBEX)
    for tenant in ("acme", "globex"):
        assert await redis.exists(token_key(tenant), session_key(tenant), qr_key(tenant)) == 3
    feed = asyncio.create_task(worker.removals.follow())  # as the WhatsApp runtime runs it
    try:
        await asyncio.wait_for(worker.removals.following.wait(), 10)
        assert await worker.integrations.remove("acme", "wppconnect")
        assert await worker.integrations.remove("globex", "wppconnect")
        await removed_everything(sim, worker, redis)
    finally:
        feed.cancel()
        await asyncio.gather(feed, return_exceptions=True)


async def removed_everything(sim: WhatsAppWebSimulator, worker: Worker, redis: Redis) -> None:
    handled = (worker.removals.wait_handled(t) for t in ("acme", "globex"))
    await asyncio.wait_for(asyncio.gather(*handled), 90)
    for tenant in ("acme", "globex"):
        assert not await redis.exists(token_key(tenant), session_key(tenant), qr_key(tenant))
    # Both logged out on WhatsApp: the phones have no linked device any more -- acme's
    # running page logged out; globex's stored login was opened to log out.
    await asyncio.wait_for(sim.wait_for(lambda: not linked(sim, ACME)), 30)
    await asyncio.wait_for(sim.wait_for(lambda: not linked(sim, GLOBEX)), 30)
    assert "deleteToken" in worker.events.status_names("acme")
    assert "deleteToken" in worker.events.status_names("globex")
    for tenant in ("acme", "globex"):
        assert not worker.tokens.exists(tenant)  # no local profile
        assert await redis.exists(tombstone_key(tenant))  # other workers drop their copies
    assert not any(s.running for s in worker.manager.sessions())


async def test_an_integration_set_again_keeps_its_session(
    world: tuple[WhatsAppWebSimulator, Worker], redis: Redis
) -> None:
    sim, worker = world
    await worker.pair(sim, "acme", ACME)
    assert await worker.integrations.remove("acme", "wppconnect")  # nobody follows the feed
    await worker.integrations.set("acme", "wppconnect", CREDENTIALS, is_default=True)
    assert not await worker.removals.handle("acme")  # it is back: nothing is touched
    assert linked(sim, ACME)
    assert await redis.exists(token_key("acme"))
