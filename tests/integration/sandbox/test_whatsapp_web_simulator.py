"""The WhatsApp Web simulator driven by real headless Chromium (Playwright).

What the bridge relies on: the wa-js names of the contract and their shapes, pairing by a
scanned code, restore from a real profile copy only, logout, conflict and takeover,
reconnection. Sends, acks and incoming messages: test_whatsapp_web_simulator_messages.py.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Playwright

from providers.wppconnect._contract import WAJS_VERSION, WPP_FUNCTIONS, WPP_PROPERTIES
from schemas.settings import Settings
from streams.whatsapp.assets import AssetMissing, find_wajs
from tests.browser import copy_profile, launch_persistent
from tests.integration.sandbox.conftest import PageOpener, Running, SimPage, SimulatorFactory, pair

pytestmark = pytest.mark.integration

PHONE = "5511999990000"
FRIEND = "5511988887777"
KEY_INFO_JS = """async () => {
  const db = await new Promise((ok, err) => {
    const r = indexedDB.open('wawc'); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  });
  const record = await new Promise((ok, err) => {
    const r = db.transaction('user').objectStore('user').get('companion');
    r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  });
  db.close();
  if (!record) return null;
  const { privateKey, publicKey } = record.keyPair;
  const exportRejected = await crypto.subtle.exportKey('pkcs8', privateKey).then(() => false, () => true);
  return {
    deviceId: record.deviceId,
    privateIsCryptoKey: privateKey instanceof CryptoKey,
    privateExtractable: privateKey.extractable,
    publicExtractable: publicKey.extractable,
    curve: privateKey.algorithm.namedCurve,
    exportRejected,
  };
}"""


async def send_text(
    page: SimPage, to: str, body: str, options: dict[str, Any] | None = None
) -> Any:
    return await page.evaluate(
        "([to, body, options]) => WPP.chat.sendTextMessage(to, body, options)",
        [to, body, options or {}],
    )


async def test_page_implements_the_contract_overrides_an_injected_wpp_and_rotates_codes(
    simulator_factory: SimulatorFactory, context: BrowserContext, open_page: PageOpener
) -> None:
    running = await simulator_factory(qr_interval=0.3, max_codes=3)
    page = await open_page(
        context, running.url, init_script="window.WPP = {injected: true, isReady: false};"
    )
    info = await page.evaluate("window.__waSimulator")
    assert info["preexistingWPP"] is True
    assert info["replacedWPP"] is True
    assert await page.evaluate("WPP.isReady") is True
    assert await page.evaluate("WPP.version") == WAJS_VERSION
    missing = await page.evaluate(
        "(names) => names.filter((n) => typeof n.split('.').reduce((o, k) => o && o[k], WPP) !== 'function')",
        [*WPP_FUNCTIONS, "on"],
    )
    assert missing == []
    assert set(WPP_PROPERTIES) == {"isReady", "on", "whatsapp.Socket"}
    assert await page.evaluate(
        "typeof WPP.whatsapp.Socket.on === 'function' && typeof WPP.whatsapp.Socket.state === 'string'"
    )

    log = page.events
    await log.wait_for(
        lambda: log.find("conn.qrcode_idle") and log.find("conn.auth_code_change")[-1] == [None]
    )
    codes = [args[0] for args in log.find("conn.auth_code_change") if args[0]]
    assert len(codes) == 3
    assert len({code["fullCode"] for code in codes}) == 3
    for code in codes:
        assert code["type"] == "multidevice"
        parts = [code["ref"], code["staticKeyPair"], code["identityKeyPair"], code["secretKey"]]
        assert code["fullCode"] == ",".join(parts)
    assert log.find("conn.require_auth") == [[]]
    # wa-js 4.6.0 fires main_ready once, at the first stream mode QR or MAIN
    assert log.find("conn.main_ready") == [[]]
    assert log.find("conn.stream_mode_changed")[0] == ["QR"]
    assert await page.state() == "UNPAIRED_IDLE"
    assert await page.evaluate("WPP.conn.getAuthCode()") is None
    assert running.sim.pending_codes() == []

    mark = log.mark()
    fresh = await page.evaluate("WPP.conn.refreshQR()")
    assert fresh["fullCode"] not in {code["fullCode"] for code in codes}
    assert log.since(mark, "conn.auth_code_change")[0] == [fresh]
    assert "UNPAIRED" in [args[0] for args in log.since(mark, "socket.state")]
    assert await page.evaluate("[WPP.conn.isAuthenticated(), WPP.conn.isMainReady()]") == [
        False,
        True,
    ]


async def test_scan_pairs_the_page_with_a_non_extractable_key(
    simulator: Running, context: BrowserContext, open_page: PageOpener
) -> None:
    page = await open_page(context, simulator.url)
    code = await page.auth_code()
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        unknown = await http.post(
            "/phone/scan", json={"code": "2@x,QUFBQQ==,QUFBQQ==,QUFBQQ==", "phone": PHONE}
        )
        assert unknown.status_code == 404
        bad_phone = await http.post("/phone/scan", json={"code": code["fullCode"], "phone": "12"})
        assert bad_phone.status_code == 400
        scanned = await http.post(
            "/phone/scan", json={"code": code["fullCode"], "phone": "+55 11 99999-0000"}
        )
        assert scanned.status_code == 200
        again = await http.post("/phone/scan", json={"code": code["fullCode"], "phone": PHONE})
        assert again.status_code == 404
    device = scanned.json()
    assert device["phone"] == PHONE
    assert re.fullmatch(rf"{PHONE}:\d+@c\.us", device["deviceId"])
    await page.wait_state("CONNECTED")

    log = page.events
    await log.wait_for(lambda: log.find("conn.stream_mode_changed")[-1] == ["MAIN"])
    states = [args[0] for args in log.find("socket.state")]
    assert states[-3:] == ["PAIRING", "OPENING", "CONNECTED"]
    assert log.find("conn.authenticated") == [[]]
    assert log.find("conn.main_ready") == [[]]  # fired with the QR code, not again
    assert log.find("conn.auth_code_change")[-1] == [None]
    assert await page.evaluate("WPP.conn.isAuthenticated()") is True
    assert await page.evaluate("WPP.conn.getMyUserId()") == {
        "server": "c.us",
        "user": PHONE,
        "_serialized": f"{PHONE}@c.us",
    }
    assert await page.evaluate("WPP.conn.getStreamData()") == {"mode": "MAIN", "info": "NORMAL"}
    assert (
        json.loads(await page.evaluate("localStorage.getItem('last-wid-md')")) == device["deviceId"]
    )
    assert await page.evaluate(KEY_INFO_JS) == {
        "deviceId": device["deviceId"],
        "privateIsCryptoKey": True,
        "privateExtractable": False,
        "publicExtractable": True,
        "curve": "P-256",
        "exportRejected": True,
    }
    assert list(simulator.sim.devices) == [device["deviceId"]]


async def test_logout_from_the_phone_clears_the_profile_and_shows_a_new_code(
    simulator: Running, context: BrowserContext, open_page: PageOpener
) -> None:
    page = await open_page(context, simulator.url)
    device = await pair(simulator, page)
    mark = page.events.mark()
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        response = await http.post("/phone/logout", json={"phone": PHONE})
        assert response.json()["devices"][0]["deviceId"] == device.device_id
        await page.events.wait_for(lambda: page.events.since(mark, "conn.logout"))
        assert (await http.post("/phone/logout", json={"phone": PHONE})).status_code == 404
    names = [n for n, _ in page.events.items[mark:] if n in ("conn.logout_reason", "conn.logout")]
    assert names == ["conn.logout_reason", "conn.logout"]
    assert page.events.since(mark, "conn.logout_reason") == [["unknown_companion"]]
    await page.page.wait_for_url(re.compile(r"/\?post_logout=1$"))
    code = await page.auth_code()
    assert code["fullCode"]
    assert await page.evaluate("localStorage.getItem('last-wid-md')") is None
    assert await page.evaluate(KEY_INFO_JS) is None
    assert await page.evaluate("WPP.conn.isAuthenticated()") is False
    assert simulator.sim.devices == {}


async def test_wpp_logout_in_place_then_pair_again(
    simulator_factory: SimulatorFactory, context: BrowserContext, open_page: PageOpener
) -> None:
    running = await simulator_factory(reload_on_logout=False)
    page = await open_page(context, running.url)
    await pair(running, page)
    assert await page.evaluate("WPP.conn.logout()") is True
    assert page.events.find("conn.logout_reason") == [["user_initiated"]]
    async with asyncio.timeout(5):
        await running.sim.wait_for(lambda: not running.sim.devices)
    code = await page.auth_code()
    assert "post_logout" not in page.page.url
    await running.sim.scan(code["fullCode"], PHONE)
    await page.wait_state("CONNECTED")
    assert page.events.find("conn.authenticated") == [[], []]


async def test_conflict_takeover_and_a_second_tab_of_the_same_profile(
    simulator: Running, context: BrowserContext, open_page: PageOpener
) -> None:
    first = await open_page(context, simulator.url)
    await pair(simulator, first)
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        assert (await http.post("/phone/conflict", json={"phone": PHONE})).json() == {"pages": 1}
        await first.wait_state("CONFLICT")
        assert await first.evaluate("WPP.conn.getStreamData().mode") == "CONFLICT"
        waiting = asyncio.ensure_future(send_text(first, f"{FRIEND}@c.us", "queued"))
        assert (await http.post("/phone/conflict", json={"phone": PHONE})).status_code == 404
        assert simulator.sim.messages == []
        await first.evaluate("WPP.whatsapp.Socket.takeover()")
        await first.wait_state("CONNECTED")
        assert (await waiting)["ack"] == 1
        assert [m.body for m in simulator.sim.messages] == ["queued"]

        second = await open_page(context, simulator.url)  # same profile: it restores
        await second.wait_state("CONNECTED")
        await first.wait_state("CONFLICT")
        sessions = (await http.get("/phone/sessions")).json()["sessions"]
    assert second.events.find("conn.authenticated") == []
    assert second.events.find("conn.main_ready") == [[]]
    assert sessions == [
        {"phone": PHONE, "open": 2, "live": 1, "maxConcurrent": 2, "maxLive": 1, "logins": 3}
    ]


async def test_only_a_real_copy_of_the_profile_restores_the_login(
    simulator: Running,
    playwright: Playwright,
    chromium: Browser,
    open_page: PageOpener,
    tmp_path: Path,
) -> None:
    profile = tmp_path / "profile"
    original = await launch_persistent(playwright, profile)
    page = await open_page(original, simulator.url)
    device = await pair(simulator, page)
    snapshot = await original.storage_state(indexed_db=True)
    await original.close()
    origin = next(o for o in snapshot["origins"] if o["origin"] == simulator.url)
    assert {"name": "last-wid-md", "value": json.dumps(device.device_id)} in origin["localStorage"]
    assert [db["name"] for db in origin.get("indexedDB", [])] == ["wawc"]

    copied = await launch_persistent(playwright, copy_profile(profile, tmp_path / "copy"))
    try:
        restored = await open_page(copied, simulator.url)
        await restored.wait_state("CONNECTED")
        assert await restored.evaluate("WPP.conn.getMyUserId()._serialized") == f"{PHONE}@c.us"
        assert "conn.require_auth" not in restored.events.names()
        assert restored.events.find("conn.authenticated") == []
        await restored.events.wait_for(lambda: restored.events.find("conn.main_ready"))
    finally:
        await copied.close()

    from_snapshot = await chromium.new_context(storage_state=snapshot)  # type: ignore[arg-type]
    try:
        stale = await open_page(from_snapshot, simulator.url)
        await stale.events.wait_for(lambda: stale.events.find("conn.logout"))
        assert stale.events.find("conn.logout_reason") == [["web_fail_storage_initialization"]]
        await stale.page.wait_for_url(re.compile(r"/\?post_logout=1$"))
        assert (await stale.auth_code())["fullCode"]
        assert await stale.evaluate("WPP.conn.isAuthenticated()") is False
    finally:
        await from_snapshot.close()
    assert device.device_id in simulator.sim.devices


async def test_a_dropped_link_reconnects_and_delivers_what_arrived_meanwhile(
    simulator: Running, paired_page: SimPage
) -> None:
    page = paired_page
    mark = page.events.mark()
    assert await simulator.sim.disconnect(PHONE, seconds=0.5) == 1
    offline = await simulator.sim.incoming(PHONE, FRIEND, "sent while offline")
    assert offline.delivered == 0
    await page.events.wait_for(lambda: ["TIMEOUT"] in page.events.since(mark, "socket.state"))
    await page.events.wait_for(lambda: ["CONNECTED"] in page.events.since(mark, "socket.state"))
    messages = await page.events.wait_for(
        lambda: [
            a[0] for a in page.events.since(mark, "chat.new_message") if not a[0]["id"]["fromMe"]
        ]
    )
    assert messages[0]["body"] == "sent while offline"
    assert page.events.since(mark, "conn.authenticated") == []


async def test_reload_after_pairing_restores_on_the_new_document(
    simulator_factory: SimulatorFactory, context: BrowserContext, open_page: PageOpener
) -> None:
    running = await simulator_factory(reload_after_pairing=True)
    page = await open_page(context, running.url)
    code = await page.auth_code()
    await running.sim.scan(code["fullCode"], PHONE)
    await page.events.wait_for(lambda: page.events.find("conn.authenticated"))
    await page.events.wait_for(lambda: len(page.events.find("conn.main_ready")) == 2)
    await page.wait_state("CONNECTED")
    assert page.events.find("conn.stream_mode_changed")[-1] == ["MAIN"]
    assert running.sim.stats[PHONE].logins == 2


def _wajs_bundle() -> Path | None:
    """The pinned wa-js bundle (scripts/bootstrap.sh: `herald whatsapp install`)."""
    try:
        return find_wajs(Settings(_env_file=None))
    except AssetMissing:
        return None


async def test_the_real_wa_js_bundle_injected_first_is_replaced(
    simulator: Running, context: BrowserContext, open_page: PageOpener
) -> None:
    bundle = _wajs_bundle()
    if bundle is None:
        pytest.skip("the wa-js bundle is missing: run `herald whatsapp install`")
    page = await open_page(context, simulator.url, init_script=bundle.read_text())
    assert await page.evaluate("window.__waSimulator.preexistingWPP") is True
    assert await page.evaluate("WPP === window.__waSimulatorWPP") is True
    await pair(simulator, page)
    sent = await send_text(page, f"{FRIEND}@c.us", "through the simulator")
    assert sent["ack"] == 1
