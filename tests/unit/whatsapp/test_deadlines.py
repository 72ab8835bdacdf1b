"""Every session state a message can wait in has a deadline and an outcome (fake pages).

The browser-level versions of these stories run against the simulator in
tests/integration/whatsapp/test_session_states.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from providers import PermanentError, RetryableError
from providers.wppconnect import PERMANENT_WPP_CODES, classify_wpp_error
from streams.whatsapp import SessionOptions, WppError
from streams.whatsapp.dispatch import _delay
from streams.whatsapp.sending import translate
from streams.whatsapp.session import WhatsAppSession
from tests.unit.whatsapp.fakes import FakeWorld, closing_sessions

FAST: dict[str, Any] = {
    "auto_close_ms": 0,
    "watchdog_interval_ms": 0,
    "reconnect_max_delay": 0.02,
    "conflict_timeout_ms": 60,
    "max_reconnects": 3,
}


class World(FakeWorld):
    async def start(self, *, paired: bool = True, **options: Any) -> WhatsAppSession:
        if paired:
            self.pair()
        session = await self.manager.ensure("acme", SessionOptions(**{**FAST, **options}))
        wanted = "inChat" if paired else "notLogged"
        await self.events.wait(lambda r: wanted in r.status_names())
        return session


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with closing_sessions(World(tmp_path)) as w:
        yield w


async def ended(session: WhatsAppSession) -> RetryableError:
    with pytest.raises(RetryableError) as caught:
        async with asyncio.timeout(5):
            await session.wait_ready()
    return caught.value


async def test_conflict_without_takeover_fails_waiters_after_its_deadline(world: World) -> None:
    session = await world.start()
    world.fake.latest("acme").emit("socket.state", "CONFLICT")
    await world.events.wait(lambda r: ("acme", "CONFLICT") in r.states)
    waiting = [asyncio.create_task(session.wait_ready()) for _ in range(3)]
    for task in waiting:
        with pytest.raises(RetryableError) as caught:
            async with asyncio.timeout(5):
                await task
        assert caught.value.code == "session_conflict"
    # The state is reported again with what happened; the session stays open.
    assert any(
        s == "CONFLICT" and d and "waiting messages fail" in d
        for _, s, d in world.events.state_details
    )
    assert session.running
    assert world.fake.latest("acme").takeovers == 0
    assert (await ended(session)).code == "session_conflict"  # a new message fails at once
    world.fake.latest("acme").emit("socket.state", "CONNECTED")  # the other client left
    await world.events.wait(lambda r: r.states.count(("acme", "CONNECTED")) == 2)
    async with asyncio.timeout(5):
        await session.wait_ready()


async def test_a_timeout_that_keeps_coming_back_ends_in_session_failed(world: World) -> None:
    session = await world.start()
    world.fake.paired_state = "TIMEOUT"  # every reload comes back offline
    world.fake.latest("acme").emit("socket.state", "TIMEOUT")
    await world.events.wait(lambda r: ("acme", "TIMEOUT") in r.states)
    waiting = asyncio.create_task(session.wait_ready())  # a message waiting meanwhile
    with pytest.raises(RetryableError) as caught:
        async with asyncio.timeout(5):
            await waiting
    assert caught.value.code == "session_failed"
    assert world.fake.latest("acme").reloads == 3  # max_reconnects
    assert world.events.status_names()[-2:] == ["sessionFailed", "browserClose"]
    assert not session.running


async def test_a_timeout_that_recovers_resets_the_count(world: World) -> None:
    session = await world.start()
    driver = world.fake.latest("acme")
    for _ in range(5):  # more TIMEOUTs than max_reconnects, each one healed by a reload
        driver.emit("socket.state", "TIMEOUT")
        reloads = driver.reloads
        await world.events.wait(lambda r, n=reloads: driver.reloads > n)
        async with asyncio.timeout(5):
            await session.wait_ready()
    assert session.running


async def test_unpaired_idle_refreshes_the_qr_until_auto_close(world: World) -> None:
    session = await world.start(paired=False, auto_close_ms=300)
    driver = world.fake.latest("acme")
    driver.emit("socket.state", "UNPAIRED_IDLE")
    await world.events.wait(lambda r: len(r.qrs) == 2)  # refreshQR gave a new code
    assert driver.refreshes == 1
    assert world.events.qrs[1][1].attempts == 2
    error = await ended(session)  # then autoClose ends the wait
    assert error.code == "session_not_authenticated"
    assert "autocloseCalled" in world.events.status_names()


async def test_unpaired_idle_without_auto_close_fails_waiters_after_qr_timeout(
    world: World,
) -> None:
    session = await world.start(paired=False, auto_close_ms=0, qr_timeout_ms=80)
    error = await ended(session)
    assert error.code == "session_not_authenticated"
    assert session.running  # autoClose 0: the QR codes go on ...
    world.fake.latest("acme").emit("socket.state", "UNPAIRED_IDLE")
    await world.events.wait(lambda r: len(r.qrs) == 2)  # ... refreshed when they run out
    world.fake.latest("acme").scan()  # a late scan lifts the block
    await world.events.wait(lambda r: "inChat" in r.status_names())
    async with asyncio.timeout(5):
        await session.wait_ready()


@pytest.mark.parametrize("state", ["TOS_BLOCK", "SMB_TOS_BLOCK", "PROXYBLOCK"])
async def test_a_session_blocked_by_whatsapp_fails_waiters_at_once(
    world: World, state: str
) -> None:
    session = await world.start()
    world.fake.latest("acme").emit("socket.state", state)
    await world.events.wait(lambda r: ("acme", state) in r.states)
    assert (await ended(session)).code == "session_blocked"


def test_wa_js_errors_are_retryable_or_permanent() -> None:
    cases = {
        # from the request: retrying cannot help
        "chat_not_found": (PermanentError, "chat_not_found", None),
        "file_too_large": (PermanentError, "file_too_large", None),
        "message_key_is_not_from_me": (PermanentError, "message_key_is_not_from_me", None),
        # from the session or WhatsApp's servers at that moment
        "not_connected": (RetryableError, "session_reloading", None),
        "logout": (RetryableError, "session_not_authenticated", None),
        "rate_overlimit": (RetryableError, "rate_limited", 60.0),
        "timeout_on_send_status": (RetryableError, "provider_timeout", None),
        # unknown, or no code at all: retryable, bounded by the attempts
        "something_new": (RetryableError, "provider_error", None),
        None: (RetryableError, "provider_error", None),
    }
    for code, (kind, herald, after) in cases.items():
        error = translate(WppError("refused", code=code), "chat.sendTextMessage")
        assert type(error) is kind, code
        assert error.code == herald, code
        assert getattr(error, "retry_after", None) == after, code
        assert error.provider_code == code
    assert "chat_not_found" in PERMANENT_WPP_CODES
    assert classify_wpp_error("chat_not_found").retryable is False


def test_a_retry_after_from_the_session_worker_sets_the_next_attempt() -> None:
    assert _delay(1, 1.0, 300.0, retry_after=60.0) == 60.0
    assert _delay(5, 1.0, 30.0, retry_after=60.0) == 30.0  # capped like any delay
    assert 0.5 <= _delay(1, 1.0, 300.0) <= 1.0  # no retry_after: backoff with jitter
