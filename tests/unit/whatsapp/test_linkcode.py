"""Link by phone number over a fake page: the code, its announcements, refusals, qrReadFail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from providers import PermanentError, RetryableError
from providers.wppconnect import WppCall
from schemas.status import utcnow
from streams.whatsapp import SessionOptions, SessionPhase, WppError
from streams.whatsapp.linkcode import format_link_code
from streams.whatsapp.session import WhatsAppSession
from tests.unit.whatsapp.fakes import FakeWorld, closing_sessions

TEXT = WppCall("chat.sendTextMessage", "5511999990001@c.us", ("hello", {}), "text")


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[FakeWorld]:
    async with closing_sessions(FakeWorld(tmp_path)) as w:
        yield w


async def started(world: FakeWorld, **options: object) -> WhatsAppSession:
    opts = SessionOptions(**{"auto_close_ms": 0, **options})  # type: ignore[arg-type]
    return await world.manager.ensure("acme", opts)


def test_codes_are_shown_as_phones_show_them() -> None:
    assert format_link_code("abcd1234") == "ABCD-1234"
    assert format_link_code("ABCD-1234") == "ABCD-1234"
    assert format_link_code("odd") == "ODD"


async def test_a_code_for_the_phone_then_the_link_behaves_as_a_scan(world: FakeWorld) -> None:
    session = await started(world)
    # Asked at once: the page has not loaded yet; the request waits for it.
    link = await session.request_link_code("5511999990001", timeout=5)
    driver = world.fake.latest("acme")
    assert ("conn.genLinkDeviceCodeForPhoneNumber", ("5511999990001",)) in driver.calls
    assert driver.link_phone == "5511999990001"
    assert link.code == f"LINK-{driver.code_number:04d}"
    assert link.phone == "5511999990001"
    assert link.attempts == 1
    assert timedelta(seconds=60) < link.expires_at - utcnow() <= timedelta(seconds=180)
    assert world.events.link_codes == [("acme", link)]

    sending = asyncio.create_task(world.manager.send(session, TEXT))
    driver.scan("5511999990001")  # the phone entered the code: the page logs in
    async with asyncio.timeout(5):
        await sending
    assert world.events.status_names() == ["notLogged", "qrReadSuccess", "inChat"]
    assert session.phone == "5511999990001"


async def test_codes_the_page_announces_go_to_the_listener_once(world: FakeWorld) -> None:
    session = await started(world)
    link = await session.request_link_code("5511999990001", timeout=5)
    driver = world.fake.latest("acme")
    driver.emit("conn.link_code_change", link.code.replace("-", ""))  # the same code: no news
    driver.emit("conn.link_code_change", "WXYZ9876")  # renewed by WhatsApp
    await world.events.wait(lambda r: len(r.link_codes) == 2)
    renewed = world.events.link_codes[1][1]
    assert (renewed.code, renewed.phone, renewed.attempts) == ("WXYZ-9876", "5511999990001", 2)
    assert session.current_link == renewed


async def test_a_logged_in_session_has_no_code(world: FakeWorld) -> None:
    world.pair()
    session = await started(world)
    with pytest.raises(PermanentError) as caught:
        await session.request_link_code("5511999990001", timeout=5)
    assert caught.value.code == "already_linked"
    assert world.events.link_codes == []


async def test_wa_js_refusals_of_the_request_are_permanent_others_retryable(
    world: FakeWorld,
) -> None:
    session = await started(world)
    await world.events.wait(lambda r: len(r.qrs) == 1)
    fail = world.fake.fail_next
    fail["conn.genLinkDeviceCodeForPhoneNumber"] = WppError("no", code="invalid_phone_number")
    with pytest.raises(PermanentError) as caught:
        await session.request_link_code("5511999990001", timeout=5)
    assert caught.value.code == "invalid_phone"
    fail["conn.genLinkDeviceCodeForPhoneNumber"] = WppError("busy", code="rate_overlimit")
    with pytest.raises(RetryableError) as later:
        await session.request_link_code("5511999990001", timeout=5)
    assert later.value.code == "link_code_unavailable"
    assert "rate_overlimit" in later.value.message
    assert world.events.link_codes == []


async def test_a_page_that_never_loads_is_retryable(world: FakeWorld) -> None:
    world.fake.silent = True
    session = await started(world)
    with pytest.raises(RetryableError) as caught:
        await session.request_link_code("5511999990001", timeout=0.05)
    assert caught.value.code == "link_code_unavailable"


async def test_a_code_request_restarts_auto_close(world: FakeWorld) -> None:
    session = await started(world, auto_close_ms=300)
    await world.events.wait(lambda r: len(r.qrs) == 1)
    await session.request_link_code("5511999990001", timeout=5)
    await world.events.wait(lambda r: "autocloseCalled" in r.status_names())
    assert world.events.status_names()[:2] == ["notLogged", "autocloseCalled"]


async def test_a_failed_scan_is_qr_read_fail_and_pairing_goes_on(world: FakeWorld) -> None:
    session = await started(world)
    await world.events.wait(lambda r: len(r.qrs) == 1)
    driver = world.fake.latest("acme")
    driver.fail_scan()
    await world.events.wait(lambda r: "qrReadFail" in r.status_names())
    await world.events.wait(lambda r: len(r.qrs) == 2)  # a new code to try again
    assert world.events.status_names() == ["notLogged", "qrReadFail"]
    assert session.phase == SessionPhase.PAIRING
    driver.scan()
    await world.events.wait(lambda r: "inChat" in r.status_names())
    assert world.events.status_names() == ["notLogged", "qrReadFail", "qrReadSuccess", "inChat"]


async def test_a_session_reopening_its_browser_has_no_code_yet(world: FakeWorld) -> None:
    session = await started(world, restart_base_delay=0.05)
    await world.events.wait(lambda r: len(r.qrs) == 1)
    world.fake.latest("acme").crash()
    await world.events.wait(lambda r: "browserClose" in r.status_names())
    with pytest.raises(RetryableError) as caught:
        await session.request_link_code("5511999990001", timeout=5)
    assert caught.value.code == "link_code_unavailable"
    # Reopened: the new page gives codes again.
    await world.events.wait(lambda r: len(r.qrs) == 2)
    link = await session.request_link_code("5511999990001", timeout=5)
    assert link.code.startswith("LINK-")
    assert len(world.fake.drivers) == 2


async def test_a_session_closed_while_the_request_waits_says_why(world: FakeWorld) -> None:
    world.fake.silent = True
    session = await started(world)
    asking = asyncio.create_task(session.request_link_code("5511999990001", timeout=5))
    await asyncio.sleep(0)  # the request is waiting for the page
    await world.manager.close("acme", "disconnect")
    with pytest.raises(RetryableError) as caught:
        await asking
    assert caught.value.code == "session_disconnected"
