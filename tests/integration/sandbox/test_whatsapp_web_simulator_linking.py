"""The simulator's pairing codes and failed scans in real headless Chromium: the shapes
of wa-js 4.6.0's ``genLinkDeviceCodeForPhoneNumber`` and what the page does after each."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext

from tests.integration.sandbox.conftest import PageOpener, Running, SimPage, SimulatorFactory

pytestmark = pytest.mark.integration

PHONE = "5511999990000"


@pytest_asyncio.fixture
async def linking(
    simulator_factory: SimulatorFactory, context: BrowserContext, open_page: PageOpener
) -> tuple[Running, SimPage]:
    """A simulator (a new code every 30 s) and a page of it in ``context``, not linked."""
    running = await simulator_factory(qr_interval=30)
    return running, await open_page(context, running.url)


async def test_a_pairing_code_links_the_page_as_a_scan_does(
    linking: tuple[Running, SimPage],
) -> None:
    running, page = linking
    await page.wait_state("UNPAIRED")
    missing = await page.evaluate(
        "WPP.conn.genLinkDeviceCodeForPhoneNumber('').catch((e) => e.code)"
    )
    assert missing == "send_the_phone_number_to_connect"
    code = await page.evaluate(f"WPP.conn.genLinkDeviceCodeForPhoneNumber('{PHONE}')")
    assert isinstance(code, str)
    assert len(code) == 8
    assert "-" not in code
    # Like wa-js's, the plain call announces nothing (conn.link_code_change is the managed flow's).
    assert page.events.find("conn.link_code_change") == []

    device = await running.sim.enter_link_code(f"{code[:4]}-{code[4:]}", PHONE)
    assert device.phone == PHONE
    await page.wait_state("CONNECTED")
    await page.events.wait_for(lambda: page.events.find("conn.authenticated"))
    assert await page.evaluate("WPP.conn.isAuthenticated()") is True
    assert await page.evaluate("WPP.conn.getMyUserId()._serialized") == f"{PHONE}@c.us"
    refused = await page.evaluate(
        f"WPP.conn.genLinkDeviceCodeForPhoneNumber('{PHONE}').catch((e) => e.code)"
    )
    assert refused == "cannot_get_code_for_already_authenticated"


async def test_a_failed_scan_goes_pairing_then_shows_a_new_code(
    linking: tuple[Running, SimPage],
) -> None:
    running, page = linking
    log = page.events
    await log.wait_for(lambda: [a for a in log.find("conn.auth_code_change") if a[0]])
    first = next(a[0] for a in log.find("conn.auth_code_change") if a[0])
    await running.sim.fail_scan(first["fullCode"], PHONE)
    await log.wait_for(lambda: len([a for a in log.find("conn.auth_code_change") if a[0]]) >= 2)
    states = [a[0] for a in log.find("socket.state")]
    assert states[-2:] == ["PAIRING", "UNPAIRED"]
    assert await page.evaluate("WPP.conn.isAuthenticated()") is False
    second = [a[0] for a in log.find("conn.auth_code_change") if a[0]][-1]
    assert second["fullCode"] != first["fullCode"]
    async with asyncio.timeout(15):
        await running.sim.scan(second["fullCode"], PHONE)
    await page.wait_state("CONNECTED")


async def test_a_person_can_link_by_phone_number_from_the_page(
    linking: tuple[Running, SimPage],
) -> None:
    running, page = linking
    await page.wait_state("UNPAIRED")
    await page.page.get_by_role("button", name="Get a pairing code").click()
    shown = page.page.locator("#pairing-code")
    await shown.filter(has_text="-").wait_for()
    [pending] = running.sim.pending_link_codes()
    assert await shown.text_content() == f"{pending.code[:4]}-{pending.code[4:]}"
    await page.page.get_by_role("button", name="Enter it on the phone").click()
    await page.wait_state("CONNECTED")
    assert [d.phone for d in running.sim.devices.values()] == [PHONE]
