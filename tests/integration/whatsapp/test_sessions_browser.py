"""Sessions across workers in real headless Chromium, against the WhatsApp Web simulator.

Each "worker" is a :class:`SessionManager` with its own Playwright, its own profile folder
(another machine) and the shared redis-server: the redis token store restores a login on
another worker with no QR, from an archive taken while the browser ran; the watchdog
reopens a crashed page and a killed browser while another tenant's session stays up;
idle sessions close and reopen; a full worker refuses a session and stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from providers import RetryableError
from providers.wppconnect import WppCall
from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import Settings
from streams.platform.metrics import prometheus_text
from streams.tenancy.crypto import Cipher
from streams.whatsapp import SessionManager, SessionOptions, WhatsAppSession
from streams.whatsapp.browser import BrowserLauncher, PlaywrightDriver
from streams.whatsapp.lease import LeaseManager, lease_key
from streams.whatsapp.manager import options_for
from streams.whatsapp.memory import browser_pid
from streams.whatsapp.tokens import RedisTokenStore, token_key
from streams.whatsapp.upkeep import Upkeep
from tests.browser import require_chromium
from tests.helpers import make_settings, new_secret_key
from tests.integration.whatsapp.rig import browser_manager, served
from tests.unit.whatsapp.fakes import Recorder

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ACME, GLOBEX = "5511988887777", "5511977776666"


def text(to: str = "5511999990001") -> WppCall:
    return WppCall("chat.sendTextMessage", f"{to}@c.us", ("hello", {}), "text")


@dataclass
class Worker:
    name: str
    settings: Settings
    manager: SessionManager
    launcher: BrowserLauncher
    upkeep: Upkeep
    events: Recorder = field(default_factory=Recorder)

    def options(self, **overrides: Any) -> SessionOptions:
        base = options_for(self.settings, None)
        fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
        return SessionOptions(**{**fields, **overrides})

    async def ensure(self, tenant: str, **overrides: Any) -> WhatsAppSession:
        return await self.manager.ensure(tenant, self.options(**overrides))

    def statuses(self, tenant: str) -> list[str]:
        return self.events.status_names(tenant)

    async def wait_status(self, tenant: str, status: str, count: int = 1) -> None:
        await self.events.wait(lambda r: r.status_names(tenant).count(status) >= count, 60)

    async def stop(self) -> None:
        await self.upkeep.stop()
        await self.manager.close_all()
        await self.launcher.stop()


@dataclass
class Env:
    sim: WhatsAppWebSimulator
    url: str
    redis: Redis
    tmp: Path
    secret: str
    workers: list[Worker] = field(default_factory=list)

    def worker(self, name: str, **settings: Any) -> Worker:
        values: dict[str, Any] = {
            "whatsapp_web_url": self.url,
            "wppconnect_token_store": "redis",
            "wppconnect_token_folder": str(self.tmp / name),
            "wppconnect_call_timeout_seconds": 30.0,
            "wppconnect_lease_ttl_ms": 3000,
            "wppconnect_watchdog_interval_ms": 1000,
            "wppconnect_reconnect_max_delay_seconds": 0.5,
            "wppconnect_send_rate": 0,
            "secret_key": self.secret,
            **settings,
        }
        config = make_settings(**values)
        launcher, events, manager = browser_manager(
            config,
            tokens=RedisTokenStore(
                config.wppconnect_token_folder, self.redis, Cipher.from_settings(config)
            ),
            leases=LeaseManager(self.redis, name, ttl_ms=config.wppconnect_lease_ttl_ms),
        )
        upkeep = Upkeep(manager)  # renews the leases, closes idle sessions, measures memory
        upkeep.start()
        worker = Worker(name, config, manager, launcher, upkeep, events)
        self.workers.append(worker)
        return worker

    async def pair(self, worker: Worker, tenant: str, phone: str) -> WhatsAppSession:
        session = await worker.ensure(tenant)
        await worker.events.wait(lambda r: any(t == tenant for t, _ in r.qrs), 60)
        code = [qr for t, qr in worker.events.qrs if t == tenant][-1].url_code
        await self.sim.scan(code, phone)
        await worker.wait_status(tenant, "inChat")
        await session.wait_ready()
        await worker.manager.drain_background()  # the after-login archive
        return session

    def stats(self, phone: str) -> Any:
        return next(s for s in self.sim.sessions() if s.phone == phone)


@pytest_asyncio.fixture
async def env(redis: Redis, tmp_path: Path) -> AsyncIterator[Env]:
    require_chromium()
    sim = WhatsAppWebSimulator(qr_interval=60)
    async with served(sim) as url:
        environment = Env(sim, url, redis, tmp_path, new_secret_key())
        try:
            yield environment
        finally:
            for worker in environment.workers:
                await worker.stop()


async def test_another_worker_restores_a_running_copy_with_no_qr(env: Env) -> None:
    one = env.worker("worker-1")
    await env.pair(one, "acme", ACME)
    # The after-login archive was taken from the profile of a running Chromium.
    running_copy = await env.redis.hgetall(token_key("acme"))
    size = int(running_copy[b"bytes"])
    print(
        f"\narchive of a simulator session: {size} bytes stored, "
        f"{int(running_copy[b'rawBytes'])} bytes of tar, {int(running_copy[b'files'])} files"
    )
    assert size < 64 * 1024
    await one.stop()  # archives again, now from the closed profile ...
    await env.redis.delete(token_key("acme"))
    await env.redis.hset(token_key("acme"), mapping=running_copy)  # ... we keep the running copy
    two = env.worker("worker-2")
    session = await two.ensure("acme")
    await two.wait_status("acme", "inChat")
    assert two.statuses("acme") == ["isLogged", "inChat"]
    assert two.events.qrs == []
    await two.manager.prepare(session)
    message_id = await two.manager.send(session, text(), key="3EB0000000000000A1B2")
    sent = env.sim.message(message_id)
    assert sent is not None
    assert sent.from_phone == ACME
    assert env.stats(ACME).max_concurrent == 1


async def test_the_watchdog_reopens_a_crashed_page_and_a_killed_browser(env: Env) -> None:
    worker = env.worker("worker-1")
    acme = await env.pair(worker, "acme", ACME)
    globex = await env.pair(worker, "globex", GLOBEX)
    globex_driver = globex.driver
    # The renderer crashes ("Aw, Snap!"): the page's crash event reopens the session.
    driver = acme.driver
    assert isinstance(driver, PlaywrightDriver)
    assert driver.page is not None
    cdp = await driver.page.context.new_cdp_session(driver.page)
    crash = asyncio.create_task(cdp.send("Page.crash"))  # never answered: the target dies
    await worker.wait_status("acme", "inChat", count=2)
    crash.cancel()
    with contextlib.suppress(BaseException):
        await crash
    assert worker.statuses("acme")[3:] == ["browserClose", "isLogged", "inChat"]
    # The whole browser of the session is killed: reopened as well.
    pid = browser_pid(worker.manager.tokens.path("acme"))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await worker.wait_status("acme", "inChat", count=3)
    assert acme.restarts == 2
    await worker.manager.prepare(acme)
    assert env.sim.message(await worker.manager.send(acme, text())) is not None
    # globex's session was never touched: same page, one login, never two at once.
    assert globex.driver is globex_driver
    assert worker.statuses("globex") == ["notLogged", "qrReadSuccess", "inChat"]
    assert env.stats(GLOBEX).logins == 1
    assert env.stats(ACME).max_concurrent == 1
    scraped = prometheus_text().decode()
    assert "herald_whatsapp_reconnections_total{" in scraped
    assert 'reason="page.crashed"' in scraped


async def test_idle_close_reopen_and_a_full_worker_refuses(env: Env) -> None:
    worker = env.worker("worker-1", wppconnect_idle_timeout_ms=2000, wppconnect_max_sessions=1)
    acme = await env.pair(worker, "acme", ACME)
    await worker.upkeep.measure()
    assert acme.memory_bytes is not None
    print(f"\nbrowser memory of a simulator session: {acme.memory_bytes / 2**20:.0f} MiB (PSS)")
    assert acme.memory_bytes > 20 * 2**20
    pid = browser_pid(worker.manager.tokens.path("acme"))
    assert pid is not None
    # The worker is full: globex is refused (retryable), the worker carries on.
    with pytest.raises(RetryableError) as caught:
        await worker.ensure("globex")
    assert caught.value.code == "session_limit"
    assert worker.statuses("globex") == ["sessionRefused"]
    # acme goes idle: archived, browser closed (its memory given back), lease released.
    await worker.wait_status("acme", "browserClose")
    await acme.settled()  # archived and released
    assert acme.close_reason == "idle"
    assert not _alive(pid)
    assert not await env.redis.exists(lease_key("acme"))
    # Now globex fits; and acme reopens on demand, logged in (no QR).
    await env.pair(worker, "globex", GLOBEX)
    await worker.wait_status("globex", "browserClose")  # idles out too
    await worker.ensure("acme")
    await worker.wait_status("acme", "inChat", count=2)
    assert worker.statuses("acme") == [
        "notLogged",
        "qrReadSuccess",
        "inChat",
        "browserClose",
        "isLogged",
        "inChat",
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/status").read_text().count("zombie")
