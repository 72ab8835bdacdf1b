"""When a session's profile is archived: only with its login on disk (fake pages).

A spy token store records every archive. The fake page's pairing is a file in the
profile; whether Herald could keep its own copy of the login (``login.py``) and whether
the browser closed cleanly or died are controlled by the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from streams.whatsapp import FileTokenStore, SessionOptions
from streams.whatsapp.lease import Lease
from streams.whatsapp.tokens import ArchiveInfo
from tests.unit.whatsapp.fakes import FakeWorld, closing_sessions

OPTIONS = SessionOptions(auto_close_ms=0, watchdog_interval_ms=0, restart_base_delay=0.01)


class SpyTokens(FileTokenStore):
    kind = "redis"  # archives, as the redis store does

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.saved: list[str] = []
        self.changed = asyncio.Event()

    async def save(self, tenant_id: str, lease: Lease | None) -> ArchiveInfo | None:
        self.saved.append(tenant_id)
        self.changed.set()
        return ArchiveInfo("id", 1, 1, 1, 1, "k")


class World(FakeWorld):
    def __init__(self, tmp: Path) -> None:
        self.spy = SpyTokens(tmp / "tokens")
        super().__init__(tmp, self.spy)

    async def scanned(self, tenant: str = "acme") -> None:
        await self.manager.ensure(tenant, OPTIONS)
        await self.events.wait(lambda r: len(r.qrs) >= 1)
        self.fake.latest(tenant).scan()
        await self.events.wait(lambda r: "inChat" in r.status_names(tenant))


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with closing_sessions(World(tmp_path)) as w:
        yield w


async def test_the_login_is_kept_before_qr_read_success_and_archived_at_once(
    world: World,
) -> None:
    await world.scanned()
    driver = world.fake.latest("acme")
    assert driver.kept_logins == 1
    session = world.manager.get("acme")
    assert session is not None
    assert session.login_on_disk
    async with asyncio.timeout(5):
        while world.spy.saved != ["acme"]:  # the first archive, not 6 s later
            await world.spy.changed.wait()
            world.spy.changed.clear()
    # A clean stop archives the closed profile again.
    await world.manager.close("acme", "shutdown")
    assert session.closed_cleanly is True
    assert session.logged_in_at_close
    assert world.spy.saved == ["acme", "acme"]


async def test_a_browser_dead_before_the_login_reached_the_disk_is_not_archived(
    world: World,
) -> None:
    world.fake.keep_login_fails = True  # Herald cannot keep its copy; Chromium has not committed
    await world.scanned()
    session = world.manager.get("acme")
    assert session is not None
    assert not session.login_on_disk
    world.fake.latest("acme").crash(notify=False)  # dies within Chromium's commit delay
    await world.manager.close("acme", "shutdown")
    assert session.closed_cleanly is False
    assert not session.logged_in_at_close
    await world.manager.drain_background()
    assert world.spy.saved == []  # a profile without its login replaces nothing
    assert world.tokens.exists("acme")  # and the local one is kept as it is


async def test_a_clean_close_archives_even_without_herald_s_copy(world: World) -> None:
    world.fake.keep_login_fails = True
    await world.scanned()
    await world.manager.close("acme", "shutdown")  # Chromium writes everything on close
    session = world.manager.get("acme")
    assert session is not None
    assert session.closed_cleanly is True
    assert world.spy.saved == ["acme"]


async def test_a_dead_browser_whose_login_was_on_disk_is_archived(world: World) -> None:
    await world.scanned()
    await world.manager.drain_background()
    world.fake.latest("acme").crash(notify=False)  # the stop signal reached it too
    await world.manager.close("acme", "shutdown")
    session = world.manager.get("acme")
    assert session is not None
    assert session.closed_cleanly is False
    assert session.logged_in_at_close
    assert world.spy.saved == ["acme", "acme"]
