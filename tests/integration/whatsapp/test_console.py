"""The session console in real Chromium: a ``herald worker whatsapp`` process serves the
page and the event stream, real headless Chromium runs the session (wa-js and the bridge)
against the WhatsApp Web simulator, and a second Chromium is the tenant's browser.

The tenant opens ``/console/whatsapp``, enters its key, starts the session, and the QR code
the page shows -- read from the screenshot of the page, as a phone's camera would -- is
scanned by the simulated phone through its HTTP phone API; the page turns connected, and
logs the number out. Then it links again by phone number (issue 15 section 1): the code
the page gets from the pairing-code endpoint is entered on the simulated phone
(``POST /phone/link-code``) and the page turns connected.
``HERALD_CONSOLE_SCREENSHOT=docs/img/whatsapp-console.png`` saves the page (with its QR
code) for the docs.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import zxingcpp
from PIL import Image
from playwright.async_api import Locator, Page, async_playwright, expect

from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas.whatsapp import ConnectionState, SessionStateEvent
from streams.tenancy.crypto import Cipher
from streams.whatsapp.events import MemoryWhatsAppSink
from streams.whatsapp.feed import PublishingSink
from streams.whatsapp.store import SessionStore
from tests.browser import launch_chromium
from tests.helpers import WorkerProcess
from tests.integration.whatsapp.rig import Rig, RigStarter, support_sessions

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PHONE = "5511988887777"
SCREENSHOT_ENV = "HERALD_CONSOLE_SCREENSHOT"


class Env(Rig):
    """The rig, with the console's and the simulator's addresses."""

    @property
    def sim_url(self) -> str:
        return self.settings.whatsapp_web_url

    @property
    def console(self) -> str:
        return f"{self.wa.url}/console/whatsapp"


@pytest_asyncio.fixture
async def env(start_rig: RigStarter) -> AsyncIterator[Env]:
    # A new QR code every 4 s, so that the page is seen following a rotation.
    sim = WhatsAppWebSimulator(qr_interval=4, max_codes=20)
    async with start_rig(
        Env,
        sim,
        support_sessions(("acme", "globex")),
        whatsapp_first=True,  # the router serves the session endpoints too
        wppconnect_call_timeout_seconds=30.0,
        wppconnect_events_heartbeat_seconds=2.0,
        topic_partitions=1,
    ) as env:
        yield env


def decode_qr(png: bytes) -> str:
    """What a phone's camera reads from the picture."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"{len(found)} codes in the picture"
    return str(found[0].text)


async def shown_code(image: Locator) -> str:
    await expect(image).to_be_visible(timeout=30_000)
    return decode_qr(await image.screenshot())


async def read_until(
    worker: WorkerProcess, key: str, text: str, opened: asyncio.Event
) -> list[str]:
    """The lines of a tenant's event stream on ``worker``, up to one containing ``text``;
    ``opened`` is set once the stream sent the QR code it holds."""
    lines: list[str] = []
    async with (
        httpx.AsyncClient(base_url=worker.url, timeout=60) as http,
        http.stream(
            "GET", "/webhooks/wppconnect/session/acme/events", headers={"X-Api-Key": key}
        ) as stream,
    ):
        assert stream.status_code == 200
        async for line in stream.aiter_lines():
            lines.append(line)
            if line == "event: qr":
                opened.set()
            if text in line:
                return lines
    raise AssertionError(f"the stream ended before {text}: {lines}")


async def sign_in(page: Page, env: Env, tenant: str, key: str) -> None:
    """By keyboard, as a person would: tenant, Tab, key, Enter."""
    await page.goto(env.console)
    await page.get_by_label("Tenant id").focus()
    await page.keyboard.type(tenant)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("API key")).to_be_focused()
    await page.keyboard.type(key)
    await page.keyboard.press("Enter")


async def test_link_the_phone_from_the_console_and_log_out(env: Env) -> None:
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        page = await browser.new_page(viewport={"width": 1000, "height": 900})
        violations: list[str] = []
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )

        await sign_in(page, env, "acme", env.keys["acme"])
        await expect(page.get_by_role("button", name="Forget key")).to_be_focused()
        await expect(page.get_by_role("status")).to_have_text("Live: following tenant acme.")
        # The key is kept by the tab's script only: not in the form, storage, cookies, URL.
        kept = await page.evaluate(
            """() => [document.getElementById('api-key').value, localStorage.length,
                      sessionStorage.length, document.cookie, location.href]"""
        )
        assert kept[:4] == ["", 0, 0, ""]
        assert env.keys["acme"] not in kept[4]

        # No session yet: start it from the console; its QR code appears.
        session = page.locator("article.session", has_text="tenant-acme")
        await session.get_by_role("button", name="Start session").click()
        await expect(session.locator(".action-result")).to_have_text("Requested: connect.")
        image = session.get_by_role("img", name="QR code")
        first = await shown_code(image)
        assert first.startswith("2@")
        await expect(session.locator(".status")).to_contain_text("notLogged")
        # A new code replaces it as WhatsApp rotates them (every 4 s here).
        shown_ref = await image.get_attribute("data-ref") or ""
        await expect(image).not_to_have_attribute("data-ref", shown_ref, timeout=15_000)
        second = await shown_code(image)
        assert second != first
        if os.environ.get(SCREENSHOT_ENV):
            await page.screenshot(path=os.environ[SCREENSHOT_ENV], full_page=True)

        # Another worker's web server follows the session as well (it runs on ``wa``).
        opened = asyncio.Event()
        elsewhere = asyncio.create_task(
            read_until(env.router, env.keys["acme"], '"inChat"', opened)
        )
        await asyncio.wait_for(opened.wait(), 30)  # the QR code on screen now, first

        # The phone scans what the page shows, through the simulator's phone API.
        async with httpx.AsyncClient(base_url=env.sim_url, timeout=30) as phone:
            scanned = await phone.post("/phone/scan", json={"code": second, "phone": PHONE})
            if scanned.status_code == 404:  # rotated between the picture and the scan
                scanned = await phone.post(
                    "/phone/scan", json={"code": await shown_code(image), "phone": PHONE}
                )
            assert scanned.status_code == 200, scanned.text
        await expect(session).to_have_attribute("data-state", "CONNECTED", timeout=30_000)
        await expect(session).to_have_attribute("data-status", "inChat", timeout=30_000)
        await expect(session.locator(".phone")).to_have_text(f"+{PHONE}")
        await expect(session.locator(".qr")).to_be_hidden()
        await expect(session.locator(".announce")).to_contain_text("tenant-acme")
        seen = await asyncio.wait_for(elsewhere, 30)
        assert any('"state":"CONNECTED"' in line for line in seen)  # live, from ``wa``

        # A second page opened now is not blank: it starts from the stored state.
        late = await browser.new_page()
        await sign_in(late, env, "acme", env.keys["acme"])
        await expect(late.locator("article.session")).to_have_attribute("data-status", "inChat")
        await late.close()

        # Log out: the number is unlinked on WhatsApp and the login deleted.
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await session.get_by_role("button", name="Log out").click()
        await expect(session).to_have_attribute("data-status", "deleteToken", timeout=30_000)
        async with asyncio.timeout(30):
            await env.sim.wait_for(
                lambda: not [d for d in env.sim.devices.values() if d.phone == PHONE]
            )

        # Link again, by phone number this time (issue 15 section 1: the pairing-code
        # endpoint, and the code typed on the phone, ``POST /phone/link-code``).
        await session.get_by_role("button", name="Start session").click()
        await expect(session.locator(".status")).to_contain_text("notLogged", timeout=30_000)
        await session.get_by_label("Phone number, with country code").fill(f"+{PHONE}")
        await session.get_by_role("button", name="Get a pairing code").click()
        code_shown = session.locator(".pair-code")
        await expect(code_shown).to_be_visible(timeout=60_000)
        code = await session.locator(".pair-code-value").text_content()
        assert code
        assert re.fullmatch(r"[A-Z0-9]{4}-?[A-Z0-9]{4}", code), code
        async with httpx.AsyncClient(base_url=env.sim_url, timeout=30) as phone:
            linked = await phone.post("/phone/link-code", json={"code": code, "phone": PHONE})
            assert linked.status_code == 200, linked.text
        await expect(session).to_have_attribute("data-status", "inChat", timeout=30_000)
        await expect(session.locator(".phone")).to_have_text(f"+{PHONE}")
        await expect(code_shown).to_be_hidden()

        assert violations == []  # nothing the page does is refused by its own CSP
        await browser.close()


async def test_attacks_on_the_console(env: Env) -> None:
    """Wrong key, another tenant's key, markup in session fields, framing, inline script."""
    async with httpx.AsyncClient(base_url=env.wa.url, timeout=10) as http:
        page = await http.get("/console/whatsapp")
        assert page.status_code == 200
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert "<script>" not in page.text  # no inline script: only console.js
        for asset in ("console.js", "console.css"):
            answer = await http.get(f"/console/whatsapp/{asset}")
            assert answer.status_code == 200
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
        script = (await http.get("/console/whatsapp/console.js")).text
        assert "innerHTML" not in script
        assert "localStorage" not in script.replace("never in localStorage", "")

        # The stream: the tenant's key only.
        events = "/webhooks/wppconnect/session/acme/events"
        missing = await http.get(events)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"]
        wrong = await http.get(events, headers={"Authorization": "Bearer hrk_wrong"})
        assert wrong.status_code == 401
        other = await http.get(events, headers={"Authorization": f"Bearer {env.keys['globex']}"})
        assert other.status_code == 403
        for command in ("connect", "disconnect", "logout"):
            refused = await http.post(
                f"/webhooks/wppconnect/session/acme/{command}",
                headers={"X-Api-Key": env.keys["globex"]},
            )
            assert refused.status_code == 403

    # Markup in fields the page shows: the stored state and a live event.
    cipher = Cipher.from_settings(env.settings)
    hostile = '<img src=x onerror="window.__pwned=1">'
    store = SessionStore(env.redis, owner="attacker", cipher=cipher)
    await store.record_status("acme", "tenant-acme", "notLogged", detail=hostile)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        page = await browser.new_page()
        # Another tenant's key, then a wrong one: refused, and the form comes back.
        await sign_in(page, env, "acme", env.keys["globex"])
        await expect(page.get_by_role("alert")).to_have_text(
            "This key may not manage this tenant's sessions."
        )
        await expect(page.get_by_label("API key")).to_be_visible()
        await page.get_by_label("API key").fill("hrk_wrong")
        await page.get_by_role("button", name="Open sessions").click()
        await expect(page.get_by_role("alert")).to_have_text("The API key was refused.")

        await page.get_by_label("API key").fill(env.keys["acme"])
        await page.get_by_role("button", name="Open sessions").click()
        session = page.locator("article.session", has_text="tenant-acme")
        await expect(session.locator(".detail")).to_have_text(hostile)  # shown as text
        sink = PublishingSink(MemoryWhatsAppSink(), env.redis, cipher)
        await sink.state(
            SessionStateEvent(
                tenant_id="acme",
                session='tenant-acme"><script>window.__pwned=2</script>',
                state=ConnectionState.OPENING,
                detail="<b>bold</b>",
            )
        )
        await sink.publish(
            "qr",
            "acme",
            b'{"tenantId":"acme","session":"tenant-acme","qrCode":"javascript:window.__pwned=3",'
            b'"urlCode":"2@x","expiresAt":"2030-01-01T00:00:00Z","attempts":1}',
        )
        injected = page.locator("article.session", has_text="<script>")
        await expect(injected.locator(".state")).to_have_text("OPENING")
        await expect(page.locator(".qr").first).to_be_hidden()  # not a PNG: not shown

        # A tenant's further number (events name it, ``sessionName``): its card's actions
        # select it with ``?session=`` (docs/whatsapp-web.md).
        await sink.publish(
            "state",
            "acme",
            b'{"tenantId":"acme","session":"tenant-acme-sales","sessionName":"sales <i>",'
            b'"state":"UNPAIRED"}',
        )
        sales = page.locator("article.session", has_text="sales <i>")
        await expect(sales.locator(".state")).to_have_text("UNPAIRED")
        async with page.expect_request(lambda r: "/disconnect" in r.url) as sent:
            await sales.get_by_role("button", name="Disconnect").click()
        assert (await sent.value).url.endswith("/acme/disconnect?session=sales%20%3Ci%3E")
        assert await page.evaluate("() => window.__pwned") is None
        assert await page.locator("img[src=x], script:not([src]), b").count() == 0

        # Markup that got into the document anyway would not run: the CSP refuses it.
        refused = asyncio.Event()
        page.on("console", lambda m: refused.set() if "Content Security Policy" in m.text else None)
        await page.evaluate(
            """() => document.body.insertAdjacentHTML('beforeend',
                     '<img src="data:," onerror="window.__pwned=4">')"""
        )
        async with asyncio.timeout(10):
            await refused.wait()
        assert await page.evaluate("() => window.__pwned") is None

        # Another site cannot frame the console (clickjacking).
        framing = await browser.new_page()
        await framing.goto(f"{env.sim_url}/health")
        await framing.evaluate(
            """(url) => new Promise((done) => {
                 const f = document.createElement('iframe');
                 f.onload = () => done(); f.src = url; document.body.appendChild(f);
               })""",
            env.console,
        )
        framed = framing.frames[1]
        assert "WhatsApp sessions" not in await framed.content()
        await browser.close()

    # A worker that stops ends its open streams instead of waiting for them.
    async with (
        httpx.AsyncClient(base_url=env.wa.url, timeout=30) as http,
        http.stream("GET", events, headers={"X-Api-Key": env.keys["acme"]}) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        assert await anext(lines) == "retry: 3000"
        code = await env.wa.stop()
        rest = [line async for line in lines]  # the worker closed it: the loop ends
    assert code == 0, env.wa.log_tail()
    assert "event: status" in rest
