"""The session state machine and the manager, over a fake page (no browser)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from providers import PermanentError, ProviderTimeout, RetryableError
from providers.wppconnect import WppCall
from streams.whatsapp import (
    NOT_AUTHENTICATED,
    ContextReset,
    DriverTimeout,
    FileTokenStore,
    SessionManager,
    SessionOptions,
    SessionPhase,
    WppError,
)
from tests.helpers import make_settings
from tests.unit.whatsapp.fakes import FakeWhatsApp, Recorder, closing_sessions

TEXT = WppCall("chat.sendTextMessage", "5511999990001@c.us", ("hello", {}), "text")


class World:
    def __init__(self, tmp: Path) -> None:
        self.fake = FakeWhatsApp()
        self.events = Recorder()
        self.tokens = FileTokenStore(tmp / "tokens")
        self.manager = SessionManager(
            make_settings(wppconnect_token_folder=str(tmp / "tokens")),
            driver_factory=self.fake.factory,
            listener=self.events,
            tokens=self.tokens,
        )

    async def start(self, tenant: str = "acme", **options: object) -> None:
        opts = SessionOptions(**{"auto_close_ms": 0, **options})  # type: ignore[arg-type]
        await self.manager.ensure(tenant, opts)


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with closing_sessions(World(tmp_path)) as w:
        yield w


def has_status(name: str, tenant: str = "acme", count: int = 1):  # type: ignore[no-untyped-def]
    return lambda rec: rec.status_names(tenant).count(name) >= count


async def test_qr_flow_then_ready_and_send(world: World) -> None:
    await world.start()
    await world.events.wait(lambda r: len(r.qrs) == 1)
    assert world.events.status_names() == ["notLogged"]
    qr = world.events.qrs[0][1]
    driver = world.fake.latest("acme")
    assert qr.url_code == driver.code
    assert qr.attempts == 1
    assert qr.qr_code.startswith("data:image/png;base64,")

    sending = asyncio.create_task(
        world.manager.send(world.manager.get("acme"), TEXT)  # type: ignore[arg-type]
    )
    driver.rotate_code()
    await world.events.wait(lambda r: len(r.qrs) == 2)
    assert world.events.qrs[1][1].attempts == 2
    assert not sending.done()

    driver.scan("5511988887777")
    async with asyncio.timeout(5):
        message_id = await sending
    assert world.events.status_names() == ["notLogged", "qrReadSuccess", "inChat"]
    [sent] = world.fake.sent
    assert sent.message_id == message_id
    assert sent.chat_id == "5511999990001@c.us"
    session = world.manager.get("acme")
    assert session is not None
    assert session.phone == "5511988887777"
    assert session.phase == SessionPhase.READY
    assert ("acme", "CONNECTED") in world.events.states
    # The token (profile directory) is private.
    assert world.tokens.path("acme").stat().st_mode & 0o777 == 0o700


async def test_a_paired_profile_comes_back_logged_in(world: World) -> None:
    world.tokens.profile_dir("acme").joinpath("fake-pairing").write_text("5511900000000")
    await world.start()
    await world.events.wait(has_status("inChat"))
    assert world.events.status_names() == ["isLogged", "inChat"]
    assert world.events.qrs == []


async def test_auto_close_fails_waiters_with_session_not_authenticated(world: World) -> None:
    await world.start(auto_close_ms=50)
    session = world.manager.get("acme")
    assert session is not None
    with pytest.raises(RetryableError) as caught:
        async with asyncio.timeout(5):
            await session.wait_ready()
    assert caught.value.code == NOT_AUTHENTICATED
    assert world.events.status_names() == ["notLogged", "autocloseCalled", "browserClose"]
    assert world.fake.latest("acme").closed
    assert world.events.cleared >= 1


async def test_messages_waiting_before_auto_close_fail_and_later_ones_restart(
    world: World,
) -> None:
    loop = asyncio.get_running_loop()
    arrived = loop.time()
    await world.start(auto_close_ms=30)
    await world.events.wait(has_status("autocloseCalled"))
    opts = SessionOptions(auto_close_ms=0)
    with pytest.raises(RetryableError) as caught:
        await world.manager.ensure("acme", opts, waiting_since=arrived)
    assert caught.value.code == NOT_AUTHENTICATED
    assert len(world.fake.drivers) == 1
    # A message that arrived after the close starts a new session (and a new QR).
    await world.manager.ensure("acme", opts, waiting_since=loop.time())
    assert len(world.fake.drivers) == 2
    await world.events.wait(lambda r: len(r.qrs) == 2)


async def test_logout_from_the_phone_deletes_the_token(world: World) -> None:
    world.tokens.profile_dir("acme").joinpath("fake-pairing").write_text("5511900000000")
    await world.start()
    await world.events.wait(has_status("inChat"))
    world.fake.latest("acme").emit("conn.logout")
    await world.events.wait(has_status("deleteToken"))
    assert world.events.status_names()[-3:] == ["desconnectedMobile", "browserClose", "deleteToken"]
    assert not world.tokens.exists("acme")
    session = world.manager.get("acme")
    assert session is not None
    assert session.phase == SessionPhase.CLOSED
    # The next message asks for a new QR code.
    await world.start()
    await world.events.wait(lambda r: len(r.qrs) == 1)


async def test_unpaired_after_login_is_a_logout_but_not_before(world: World) -> None:
    await world.start()
    await world.events.wait(lambda r: len(r.qrs) == 1)
    driver = world.fake.latest("acme")
    driver.emit("socket.state", "UNPAIRED_IDLE")
    driver.emit("socket.state", "UNPAIRED")  # still pairing: nothing to delete
    await world.events.wait(lambda r: ("acme", "UNPAIRED_IDLE") in r.states)
    assert "deleteToken" not in world.events.status_names()
    driver.scan()
    await world.events.wait(has_status("inChat"))
    driver.emit("socket.state", "UNPAIRED")
    await world.events.wait(has_status("deleteToken"))
    assert not world.tokens.exists("acme")


async def test_timeout_reconnects_and_conflict_takes_over_only_when_configured(
    world: World,
) -> None:
    world.tokens.profile_dir("acme").joinpath("fake-pairing").write_text("5511900000000")
    await world.start(reconnect_max_delay=0.05, takeover_on_conflict=True)
    await world.events.wait(has_status("inChat"))
    driver = world.fake.latest("acme")
    driver.emit("socket.state", "TIMEOUT")
    await world.events.wait(lambda r: ("acme", "TIMEOUT") in r.states)
    async with asyncio.timeout(5):
        while driver.reloads < 1:
            await world.events.changed.wait()
    driver.emit("socket.state", "CONFLICT")
    # Taking over makes the socket CONNECTED again.
    await world.events.wait(
        lambda r: r.states[-2:] == [("acme", "CONFLICT"), ("acme", "CONNECTED")]
    )
    assert driver.takeovers == 1

    world.tokens.profile_dir("globex").joinpath("fake-pairing").write_text("5511900000001")
    await world.start("globex")
    await world.events.wait(has_status("inChat", "globex"))
    other = world.fake.latest("globex")
    other.emit("socket.state", "CONFLICT")
    other.emit("socket.state", "CONNECTED")
    await world.events.wait(lambda r: r.states.count(("globex", "CONNECTED")) == 2)
    assert other.takeovers == 0
    assert ("globex", "CONFLICT") in world.events.states


async def test_acks_and_incoming_messages_are_forwarded(world: World) -> None:
    world.tokens.profile_dir("acme").joinpath("fake-pairing").write_text("5511900000000")
    await world.start()
    await world.events.wait(has_status("inChat"))
    driver = world.fake.latest("acme")
    driver.emit("chat.msg_ack_change", {"ack": 3, "chat": "x@c.us", "ids": ["id-1", "id-2"]})
    driver.emit("chat.new_message", {"id": "in-1", "fromMe": False, "from": "1@c.us", "t": 1})
    driver.emit("chat.new_message", {"id": "out-1", "fromMe": True, "from": "2@c.us"})
    await world.events.wait(lambda r: r.acks and r.messages)
    assert world.events.acks == [("acme", 3, ["id-1", "id-2"])]
    assert [m["id"] for _, m in world.events.messages] == ["in-1"]


async def test_a_crashed_page_is_reopened_and_waiters_keep_waiting(world: World) -> None:
    await world.start(restart_base_delay=0.01)
    await world.events.wait(lambda r: len(r.qrs) == 1)
    session = world.manager.get("acme")
    assert session is not None
    waiting = asyncio.create_task(session.wait_ready())
    first = world.fake.latest("acme")
    first.emit("page.crashed")
    first.emit("page.closed")  # the same death, reported twice: one reopening
    await world.events.wait(lambda r: len(r.qrs) == 2)  # the reopened page shows a QR again
    assert len(world.fake.drivers) == 2
    assert first.closed
    assert session.restarts == 1
    assert not waiting.done()
    assert world.events.status_names() == ["notLogged", "browserClose", "notLogged"]
    assert world.events.statuses[1][2] == "restarting: page.crashed"
    world.fake.latest("acme").scan()
    async with asyncio.timeout(5):
        await waiting


async def test_send_errors_are_translated(world: World) -> None:
    world.tokens.profile_dir("acme").joinpath("fake-pairing").write_text("5511900000000")
    await world.start()
    await world.events.wait(has_status("inChat"))
    session = world.manager.get("acme")
    assert session is not None
    world.fake.not_on_whatsapp.add("5511999990001")
    with pytest.raises(PermanentError) as not_on:
        await world.manager.send(session, TEXT)
    assert not_on.value.code == "not_on_whatsapp"
    world.fake.not_on_whatsapp.clear()
    send = "chat.sendTextMessage"
    cases: list[tuple[str, Exception, type[Exception], str]] = [
        (send, ContextReset("reloaded"), RetryableError, "session_reloading"),
        (send, DriverTimeout("slow"), ProviderTimeout, "provider_timeout"),
        (send, WppError("no chat", code="chat_not_found"), PermanentError, "chat_not_found"),
        ("contact.queryExists", DriverTimeout("slow"), ProviderTimeout, "provider_timeout"),
    ]
    for function, error, kind, code in cases:
        world.fake.fail_next[function] = error  # type: ignore[assignment]
        with pytest.raises(kind) as caught:
            await world.manager.send(session, TEXT)
        assert caught.value.code == code  # type: ignore[attr-defined]
    assert world.fake.sent == []
    # A reload during the contact check (a read) is retried once on the new document.
    world.fake.fail_next["contact.queryExists"] = ContextReset("reloaded")
    assert await world.manager.send(session, TEXT) == world.fake.sent[0].message_id


async def test_disconnect_keeps_the_token_and_logout_deletes_it(world: World) -> None:
    world.tokens.profile_dir("acme").joinpath("fake-pairing").write_text("5511900000000")
    await world.start()
    await world.events.wait(has_status("inChat"))
    arrived = asyncio.get_running_loop().time()
    assert await world.manager.close("acme", "disconnect")
    assert world.tokens.exists("acme")
    assert world.events.status_names()[-1] == "browserClose"
    # A message that was waiting when the session was disconnected fails; later ones reopen.
    with pytest.raises(RetryableError) as caught:
        await world.manager.ensure("acme", SessionOptions(), waiting_since=arrived)
    assert caught.value.code == "session_disconnected"
    await world.start()
    await world.events.wait(has_status("inChat", count=2))
    assert await world.manager.close("acme", "logout", logout=True)
    assert not world.tokens.exists("acme")
    assert ("conn.logout", ()) in world.fake.latest("acme").calls
    assert world.events.status_names()[-2:] == ["browserClose", "deleteToken"]
    assert not await world.manager.close("nobody", "disconnect")


async def test_a_browser_that_cannot_start_is_retryable(world: World) -> None:
    world.fake.fail_open = True
    with pytest.raises(RetryableError) as caught:
        await world.start()
    assert caught.value.code == "session_unavailable"
    world.fake.fail_open = False
    await world.start()
    await world.events.wait(lambda r: len(r.qrs) == 1)


async def test_a_logout_waits_for_the_connection_of_a_login_still_syncing(world: World) -> None:
    """Sent before the socket is up, a logout would log out only the page: the phone would
    keep the linked device (the removal of an integration opens a stored login for this)."""
    world.tokens.profile_dir("acme").joinpath("fake-pairing").write_text("5511900000000")
    world.fake.paired_state = "OPENING"  # logged in, not connected yet
    await world.start()
    session = world.manager.get("acme")
    assert session is not None
    await world.events.wait(has_status("isLogged"))
    assert session.phase is SessionPhase.SYNCING
    driver = world.fake.latest("acme")
    closing = asyncio.create_task(world.manager.close("acme", "logout", logout=True))
    for _ in range(20):  # let the close begin: it waits
        await asyncio.sleep(0)
    assert ("conn.logout", ()) not in driver.calls
    driver.emit("socket.state", "CONNECTED")
    async with asyncio.timeout(5):
        assert await closing
    calls = [name for name, _ in driver.calls]
    assert calls.index("conn.logout") > calls.index("conn.getMyUserId")  # after inChat
    assert world.events.status_names()[-2:] == ["browserClose", "deleteToken"]
