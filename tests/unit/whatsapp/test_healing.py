"""Self-healing, limits, idle sessions and pacing, over fake pages (no browser, no Redis)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from providers import RetryableError
from providers.wppconnect import WppCall
from streams.whatsapp import (
    DriverClosed,
    DriverTimeout,
    FileTokenStore,
    SessionManager,
    SessionOptions,
    SessionPhase,
)
from streams.whatsapp.driver import ContextReset
from streams.whatsapp.healing import restart_delay
from streams.whatsapp.manager import message_key, with_message_id
from streams.whatsapp.pacing import Pacer
from streams.whatsapp.upkeep import Upkeep
from tests.helpers import make_settings
from tests.unit.whatsapp.fakes import FakeWhatsApp, Recorder, closing_sessions

TEXT = WppCall("chat.sendTextMessage", "5511999990001@c.us", ("hello", {}), "text")
FAST = {"auto_close_ms": 0, "restart_base_delay": 0.01, "reconnect_max_delay": 0.05}


class World:
    def __init__(self, tmp: Path, **settings: Any) -> None:
        self.fake = FakeWhatsApp()
        self.events = Recorder()
        self.tokens = FileTokenStore(tmp / "tokens")
        self.manager = SessionManager(
            make_settings(wppconnect_token_folder=str(tmp / "tokens"), **settings),
            driver_factory=self.fake.factory,
            listener=self.events,
            tokens=self.tokens,
        )

    def pair(self, tenant: str, phone: str = "5511900000000") -> None:
        self.tokens.profile_dir(tenant).joinpath("fake-pairing").write_text(phone)

    async def start(self, tenant: str = "acme", **options: Any) -> None:
        await self.manager.ensure(tenant, SessionOptions(**{**FAST, **options}))

    async def ready(self, tenant: str = "acme", **options: Any) -> None:
        self.pair(tenant)
        await self.start(tenant, **options)
        await self.events.wait(lambda r: "inChat" in r.status_names(tenant))


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with closing_sessions(World(tmp_path)) as w:
        yield w


def statuses(world: World, tenant: str = "acme") -> list[str]:
    return world.events.status_names(tenant)


async def test_a_lost_browser_reopens_logged_in_and_messages_go_out(world: World) -> None:
    await world.ready()
    await world.ready("globex")
    other = world.fake.latest("globex")
    world.fake.latest("acme").emit("browser.disconnected")
    await world.events.wait(lambda r: r.status_names("acme").count("inChat") == 2)
    assert statuses(world) == ["isLogged", "inChat", "browserClose", "isLogged", "inChat"]
    session = world.manager.get("acme")
    assert session is not None
    assert session.restarts == 1
    await world.manager.prepare(session)
    assert await world.manager.send(session, TEXT) == world.fake.sent[-1].message_id
    # Another tenant's browser was never touched.
    assert world.fake.latest("globex") is other
    assert not other.closed
    assert statuses(world, "globex") == ["isLogged", "inChat"]


async def test_after_max_restarts_the_session_fails_and_its_waiters_fail_retryable(
    world: World,
) -> None:
    await world.start(max_restarts=2)
    await world.events.wait(lambda r: len(r.qrs) == 1)
    session = world.manager.get("acme")
    assert session is not None
    waiting = asyncio.create_task(session.wait_ready())
    world.fake.failing_opens = 10  # every reopening crashes
    world.fake.latest("acme").emit("page.crashed")
    with pytest.raises(RetryableError) as caught:
        async with asyncio.timeout(5):
            await waiting
    assert caught.value.code == "session_failed"
    assert caught.value.retryable
    assert statuses(world)[-2:] == ["sessionFailed", "browserClose"]
    # The crash, the first failed reopening, then the second: given up.
    assert statuses(world).count("browserClose") == 3
    assert session.phase == SessionPhase.CLOSED
    # A message that was waiting fails; the next one starts afresh.
    with pytest.raises(RetryableError):
        await world.manager.ensure("acme", SessionOptions(**FAST), waiting_since=0.0)
    world.fake.failing_opens = 0
    await world.start()
    assert world.manager.get("acme") is session
    assert session.running


def test_restart_backoff_doubles_and_is_capped() -> None:
    random.seed(7)
    delays = [restart_delay(n, 1.0, 10.0) for n in range(1, 7)]
    for n, delay in enumerate(delays, start=1):
        bound = min(10.0, 2.0 ** (n - 1))
        assert 0.8 * bound <= delay <= bound
    assert max(delays) <= 10.0


@pytest.mark.parametrize(
    ("error", "ready", "restarts"),
    [
        (DriverClosed("Target page, context or browser has been closed"), True, 1),
        (DriverTimeout("did not answer"), True, 1),
        (ContextReset("Execution context was destroyed"), True, 1),  # three checks in a row
        (None, False, 1),  # WhatsApp Web never loads
        (None, True, 0),  # healthy
    ],
)
async def test_the_watchdog_reopens_an_unhealthy_page(
    world: World, error: Exception | None, ready: bool, restarts: int
) -> None:
    await world.ready(watchdog_interval_ms=20)
    session = world.manager.get("acme")
    assert session is not None
    world.fake.snapshot_error = error  # type: ignore[assignment]
    world.fake.snapshot_ready = ready
    if restarts:
        await world.events.wait(lambda r: "browserClose" in r.status_names("acme"))
        world.fake.snapshot_error = None
        world.fake.snapshot_ready = True
        await world.events.wait(lambda r: r.status_names("acme").count("inChat") == 2)
        assert session.restarts == 1
    else:
        first = world.fake.latest("acme")
        seen = world.fake.probes
        async with asyncio.timeout(5):
            while world.fake.probes < seen + 5:  # five healthy checks: nothing happens
                await world.fake.probed.wait()
        assert world.fake.latest("acme") is first
        assert session.restarts == 0
        assert session.failures == 0


async def test_a_worker_full_of_sessions_refuses_more_and_stays_up(tmp_path: Path) -> None:
    world = World(tmp_path, wppconnect_max_sessions=2)
    try:
        await world.ready("a")
        await world.ready("b")
        with pytest.raises(RetryableError) as caught:
            await world.start("c")
        assert caught.value.code == "session_limit"
        assert caught.value.retry_after
        assert statuses(world, "c") == ["sessionRefused"]
        assert "WHATSAPP_WPPCONNECT_MAX_SESSIONS" in (world.events.statuses[-1][2] or "")
        assert len(world.fake.drivers) == 2  # no browser was launched for c
        # The running ones keep working; once one closes, c gets its place.
        session = world.manager.get("a")
        assert session is not None
        await world.manager.send(session, TEXT)
        await world.manager.close("b")
        await world.start("c")
        assert [s.tenant_id for s in world.manager.active()] == ["a", "c"]
    finally:
        await world.manager.close_all()


async def test_idle_sessions_close_and_reopen_on_demand(tmp_path: Path) -> None:
    world = World(tmp_path, wppconnect_idle_timeout_ms=50, wppconnect_lease_ttl_ms=1000)
    upkeep = Upkeep(world.manager)
    try:
        await world.ready("a")
        await world.ready("b")
        world.manager.queued["b"] += 1  # b has a message waiting: never idle
        session = world.manager.get("a")
        assert session is not None
        loop = asyncio.get_running_loop()
        session.last_used = loop.time() - 1.0
        await upkeep.once()
        await world.events.wait(lambda r: r.status_names("a")[-1:] == ["browserClose"])
        assert session.close_reason == "idle"
        assert session.close_error is not None
        assert session.close_error.code == "session_idle"  # not final: the next message reopens
        assert world.fake.latest("a").closed
        other = world.manager.get("b")
        assert other is not None
        assert other.running
        # The next message reopens it, logged in (its profile was kept).
        await world.manager.ensure("a", SessionOptions(**FAST), waiting_since=0.0)
        await world.events.wait(lambda r: r.status_names("a").count("inChat") == 2)
    finally:
        await upkeep.stop()
        await world.manager.close_all()


async def test_pacing_spaces_one_sessions_sends_with_jitter() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(30, 1.0, clock=lambda: now[0], sleep=sleep, rng=random.Random(1))
    assert await pacer.wait() == 0.0  # the first goes at once
    for _ in range(5):
        await pacer.wait()
    assert len(slept) == 5
    assert all(2.0 <= s <= 3.0 for s in slept)  # 60/30 s, plus up to 1 s of jitter
    assert len({round(s, 6) for s in slept}) > 1
    unpaced = Pacer(0, 1.0, clock=lambda: now[0], sleep=sleep)
    assert [await unpaced.wait() for _ in range(3)] == [0.0, 0.0, 0.0]


async def test_one_tenants_pacing_does_not_hold_up_another(world: World) -> None:
    await world.ready("slow", send_rate_per_minute=60 / 30, send_jitter_ms=0)  # one per 30 s
    await world.ready("fast", send_rate_per_minute=0)
    slow, fast = world.manager.get("slow"), world.manager.get("fast")
    assert slow is not None
    assert fast is not None
    await world.manager.prepare(slow)  # the first goes at once ...
    held = asyncio.create_task(world.manager.prepare(slow))  # ... the second waits 30 s
    for _ in range(3):
        await world.manager.prepare(fast)
        await world.manager.send(fast, TEXT)
    assert not held.done()
    assert slow.pacer.delay() > 25
    held.cancel()


def test_message_ids_are_deterministic_and_set_as_wajs_send_option() -> None:
    key = message_key("acme", "n-1")
    assert key == message_key("acme", "n-1")
    assert key != message_key("globex", "n-1")
    assert key.startswith("3EB0")
    assert len(key) == 20
    chat = "5511999990001@c.us"
    assert with_message_id(TEXT, chat, key) == ("hello", {"messageId": f"true_{chat}_{key}"})
    card = WppCall("chat.sendVCardContactMessage", chat, ({"id": "1@c.us", "name": "A"},), "c")
    assert with_message_id(card, chat, key)[-1] == {"messageId": f"true_{chat}_{key}"}
    place = WppCall("chat.sendLocationMessage", chat, ({"lat": 1, "lng": 2},), "location")
    assert with_message_id(place, chat, key) == (
        {"lat": 1, "lng": 2, "messageId": f"true_{chat}_{key}"},
    )
