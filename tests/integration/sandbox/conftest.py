"""Fixtures for browser tests of the WhatsApp Web simulator: one Chromium per module.

``simulator`` serves a fresh :class:`WhatsAppWebSimulator`; ``context`` is a fresh browser
context; ``open_page(context, url)`` opens the simulator page with every WPP event
recorded into an :class:`~tests.browser.EventLog` (kept across navigations).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from providers.wppconnect._contract import WPP_EVENTS
from sandbox import serve_app
from sandbox.whatsapp_web import Device, WhatsAppWebSimulator
from tests.browser import EventLog, launch_chromium

#: Listeners added by an init script through the simulator's test hook, before any event.
RECORDER_JS = """
window.__waSimulatorBeforeStart = (WPP) => {
  const names = %s;
  for (const name of names) {
    WPP.on(name, (...args) => window.__waRecord(name, args));
  }
  WPP.whatsapp.Socket.on('change:state', (model, value) => window.__waRecord('socket.state', [value]));
};
"""
RECORDED_EVENTS = sorted({*WPP_EVENTS, "conn.stream_mode_changed", "conn.qrcode_idle"})


@dataclass
class Running:
    sim: WhatsAppWebSimulator
    url: str


@dataclass
class SimPage:
    page: Page
    events: EventLog

    async def evaluate(self, expression: str, arg: Any = None) -> Any:
        return await self.page.evaluate(expression, arg)

    async def state(self) -> str:
        return str(await self.page.evaluate("WPP.whatsapp.Socket.state"))

    async def wait_state(self, state: str, within: float = 10.0) -> None:
        await self.page.wait_for_function(
            "(s) => window.WPP && WPP.whatsapp.Socket.state === s",
            arg=state,
            timeout=within * 1000,
        )

    async def auth_code(self) -> dict[str, Any]:
        """The code the page shows now (waits for one)."""
        await self.page.wait_for_function(
            "() => window.WPP && WPP.whatsapp.Conn.ref", timeout=10_000
        )
        code = await self.page.evaluate("WPP.conn.getAuthCode()")
        assert code is not None
        return dict(code)


SimulatorFactory = Callable[..., Awaitable[Running]]
PageOpener = Callable[..., Awaitable[SimPage]]


@pytest_asyncio.fixture(scope="module")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@pytest_asyncio.fixture(scope="module")
async def chromium(playwright: Playwright) -> AsyncIterator[Browser]:
    browser = await launch_chromium(playwright)
    try:
        yield browser
    finally:
        await browser.close()


@pytest_asyncio.fixture
async def context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await chromium.new_context()
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest_asyncio.fixture
async def simulator_factory() -> AsyncIterator[SimulatorFactory]:
    """``await simulator_factory(**options)``: a served simulator (fast test defaults)."""
    async with AsyncExitStack() as stack:

        async def start(**options: Any) -> Running:
            values: dict[str, Any] = {
                "qr_interval": 10.0,
                "query_cache_miss": 0.2,
                "reconnect_delay": 0.2,
            }
            values.update(options)
            sim = WhatsAppWebSimulator(**values)
            url = await stack.enter_async_context(serve_app(sim.app))
            return Running(sim, url)

        yield start


@pytest_asyncio.fixture
async def simulator(simulator_factory: SimulatorFactory) -> Running:
    return await simulator_factory()


@pytest.fixture
def open_page() -> PageOpener:
    async def opener(
        ctx: BrowserContext, url: str, *, init_script: str | None = None, path: str = "/"
    ) -> SimPage:
        log = EventLog()
        page = await ctx.new_page()
        await page.expose_function("__waRecord", log.record)
        if init_script:
            await page.add_init_script(init_script)
        await page.add_init_script(RECORDER_JS % RECORDED_EVENTS)
        await page.goto(url + path)
        return SimPage(page, log)

    return opener


@pytest_asyncio.fixture
async def paired_page(
    simulator: Running, context: BrowserContext, open_page: PageOpener
) -> SimPage:
    """A page of ``simulator`` in ``context``, paired (with :func:`pair`'s phone)."""
    page = await open_page(context, simulator.url)
    await pair(simulator, page)
    return page


async def pair(running: Running, page: SimPage, phone: str = "5511999990000") -> Device:
    """Scan the page's current code with ``phone`` and wait until it is CONNECTED."""
    code = await page.auth_code()
    device = await running.sim.scan(code["fullCode"], phone)
    await page.wait_state("CONNECTED")
    return device
