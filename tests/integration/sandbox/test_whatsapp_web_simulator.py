"""The WhatsApp Web simulator driven by real headless Chromium (Playwright).

What the bridge relies on: the wa-js names of the contract and their shapes, pairing by a
scanned code, restore from a real profile copy only, sends and their acks, incoming
messages, logout, conflict and takeover, reconnection.
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
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
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
REJECTION_JS = (
    "(p) => p.then(() => null, (e) => ({code: e && e.code, message: String(e && e.message || e)}))"
)


def acks_of(page: SimPage, message_id: str) -> list[int]:
    return [
        args[0]["ack"]
        for args in page.events.find("chat.msg_ack_change")
        if any(key["_serialized"] == message_id for key in args[0]["ids"])
    ]


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


async def test_send_functions_record_messages_and_return_wa_js_shapes(
    simulator: Running, context: BrowserContext, open_page: PageOpener
) -> None:
    page = await open_page(context, simulator.url)
    await pair(simulator, page)
    chat = f"{FRIEND}@c.us"
    text = await send_text(page, chat, "Your order has shipped")
    assert re.fullmatch(rf"true_{FRIEND}@c\.us_3EB0[0-9A-F]{{16}}", text["id"])
    result = text.pop("sendMsgResult")
    assert text == {"id": text["id"], "ack": 1, "from": f"{PHONE}@c.us", "to": chat}
    assert result["messageSendResult"] == "OK"
    assert isinstance(result["t"], int)

    image_url = "data:image/png;base64," + __import__("base64").b64encode(PNG).decode()
    image = await page.evaluate(
        "([to, data]) => WPP.chat.sendFileMessage(to, data, {type: 'image', caption: 'The parcel'})",
        [chat, image_url],
    )
    assert set(image) == {"id", "ack", "sendMsgResult"}
    assert image["ack"] == 1
    document = await page.evaluate(
        "([to, data]) => WPP.chat.sendFileMessage(to, data, {type: 'document', filename: 'invoice.pdf', mimetype: 'application/pdf'})",
        [FRIEND, __import__("base64").b64encode(b"%PDF-1.4 test").decode()],
    )
    location = await page.evaluate(
        "(to) => WPP.chat.sendLocationMessage(to, {lat: -22.95201, lng: '-43.2102601', name: 'Cristo Redentor', address: 'Rio de Janeiro'})",
        chat,
    )
    contact = await page.evaluate(
        "(to) => WPP.chat.sendVCardContactMessage(to, {id: '5511977776666@c.us', name: 'Ana'})",
        chat,
    )
    assert location["to"] == contact["to"] == chat
    invalid = await page.evaluate(
        f"(to) => ({REJECTION_JS})(WPP.chat.sendFileMessage(to, 'not base64!', {{type: 'image'}}))",
        chat,
    )
    assert invalid["message"] == "invalid_data_url"

    async with httpx.AsyncClient(base_url=simulator.url) as http:
        listed = (await http.get("/phone/messages", params={"from": PHONE})).json()["messages"]
        media = await http.get(f"/phone/messages/{image['id']}/media")
    assert [m["id"] for m in listed] == [
        text["id"],
        image["id"],
        document["id"],
        location["id"],
        contact["id"],
    ]
    assert all(m["from"] == PHONE and m["to"] == FRIEND and m["acks"] == [1] for m in listed)
    assert listed[0]["type"] == "chat"
    assert listed[0]["body"] == "Your order has shipped"
    assert (listed[1]["type"], listed[1]["caption"], listed[1]["mimetype"]) == (
        "image",
        "The parcel",
        "image/png",
    )
    assert listed[1]["filename"] == "image.png"
    assert listed[1]["size"] == len(PNG)
    assert (listed[2]["type"], listed[2]["filename"], listed[2]["mimetype"]) == (
        "document",
        "invoice.pdf",
        "application/pdf",
    )
    assert listed[3]["location"] == {
        "lat": -22.95201,
        "lng": -43.2102601,
        "name": "Cristo Redentor",
        "address": "Rio de Janeiro",
    }
    assert listed[4]["type"] == "vcard"
    assert listed[4]["contact"] == {
        "id": "5511977776666@c.us",
        "name": "Ana",
    }
    assert media.content == PNG
    assert media.headers["Content-Type"] == "image/png"

    await page.events.wait_for(lambda: all(acks_of(page, m["id"]) == [1] for m in listed))
    first = next(
        args[0]
        for args in page.events.find("chat.msg_ack_change")
        if args[0]["ids"][0]["_serialized"] == text["id"]
    )
    assert first["chat"]["_serialized"] == chat
    assert first["ids"][0]["fromMe"] is True
    assert first["ids"][0]["id"] == text["id"].rsplit("_", 1)[1]
    own = [args[0] for args in page.events.find("chat.new_message") if args[0]["id"]["fromMe"]]
    assert [m["id"]["_serialized"] for m in own] == [m["id"] for m in listed]

    chosen = f"true_{chat}_3EB0AAAABBBBCCCCDDDD"
    assert (await send_text(page, chat, "once", {"messageId": chosen}))["id"] == chosen
    assert (await send_text(page, chat, "once", {"messageId": chosen}))["id"] == chosen
    assert [m.id for m in simulator.sim.messages].count(chosen) == 1
    later = await send_text(page, chat, "no wait", {"waitForAck": False})
    assert (later["ack"], later["sendMsgResult"]) == (0, None)
    await page.events.wait_for(lambda: acks_of(page, later["id"]) == [1])


async def test_acks_posted_by_the_phone_reach_the_sending_page(
    simulator: Running, context: BrowserContext, open_page: PageOpener
) -> None:
    page = await open_page(context, simulator.url)
    await pair(simulator, page)
    sent = await send_text(page, f"{FRIEND}@c.us", "hello")
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        for ack in (2, 3, 4, -1):
            response = await http.post(f"/phone/messages/{sent['id']}/ack", json={"ack": ack})
            assert response.status_code == 200
            assert response.json()["ack"] == ack
        assert (
            await http.post(f"/phone/messages/{sent['id']}/ack", json={"ack": 9})
        ).status_code == 400
        assert (
            await http.post(f"/phone/messages/{sent['id']}/ack", json={"ack": "2"})
        ).status_code == 400
        unknown = await http.post(
            f"/phone/messages/true_{FRIEND}@c.us_3EB0FFFFFFFFFFFFFFFF/ack", json={"ack": 2}
        )
        assert unknown.status_code == 404
        stored = (await http.get(f"/phone/messages/{sent['id']}")).json()
    assert stored["acks"] == [1, 2, 3, 4, -1]
    await page.events.wait_for(lambda: acks_of(page, sent["id"]) == [1, 2, 3, 4, -1])
    receipt = next(
        args[0] for args in page.events.find("chat.msg_ack_change") if args[0]["ack"] == 3
    )
    assert receipt["chat"] == {"server": "c.us", "user": FRIEND, "_serialized": f"{FRIEND}@c.us"}
    assert "sender" in receipt
    assert receipt["sender"] is None
    key = receipt["ids"][0]
    assert (key["fromMe"], key["id"], key["_serialized"]) == (
        True,
        sent["id"].rsplit("_", 1)[1],
        sent["id"],
    )


async def test_incoming_messages_become_chat_new_message(
    simulator: Running, context: BrowserContext, open_page: PageOpener
) -> None:
    page = await open_page(context, simulator.url)
    await pair(simulator, page)
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        body = {"to": PHONE, "from": FRIEND, "body": "Where is my order?", "notifyName": "Bob"}
        response = await http.post("/phone/incoming", json=body)
        nobody = await http.post("/phone/incoming", json={**body, "to": "5511900000009"})
    assert response.status_code == 201
    assert nobody.status_code == 404
    written = response.json()
    assert written["delivered"] == 1
    assert re.fullmatch(rf"false_{FRIEND}@c\.us_[0-9A-F]{{32}}", written["id"])
    messages = await page.events.wait_for(
        lambda: [a[0] for a in page.events.find("chat.new_message") if not a[0]["id"]["fromMe"]]
    )
    message = messages[0]
    assert message["id"]["_serialized"] == written["id"]
    assert (message["type"], message["body"], message["notifyName"]) == (
        "chat",
        "Where is my order?",
        "Bob",
    )
    assert message["from"]["_serialized"] == f"{FRIEND}@c.us"
    assert message["to"]["_serialized"] == f"{PHONE}@c.us"
    assert message["t"] == written["t"]


async def test_numbers_marked_not_on_whatsapp(
    simulator: Running, context: BrowserContext, open_page: PageOpener
) -> None:
    page = await open_page(context, simulator.url)
    await pair(simulator, page)
    unknown = "5511900000001"
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        assert (
            await http.post("/phone/not-on-whatsapp", json={"phone": "+55 11 90000-0001"})
        ).status_code == 201
        assert (await http.get("/phone/not-on-whatsapp")).json() == {"phones": [unknown]}
        assert await page.evaluate("(n) => WPP.contact.queryExists(n)", f"{unknown}@c.us") is None
        found = await page.evaluate("(n) => WPP.contact.queryExists(n)", FRIEND)
        assert found == {
            "wid": {"server": "c.us", "user": FRIEND, "_serialized": f"{FRIEND}@c.us"},
            "biz": False,
        }
        refused = await page.evaluate(
            f"(to) => ({REJECTION_JS})(WPP.chat.sendTextMessage(to, 'hi'))", f"{unknown}@c.us"
        )
        assert refused == {
            "code": "chat_not_found",
            "message": f"Chat not found for {unknown}@c.us",
        }
        invalid = await page.evaluate(
            f"() => ({REJECTION_JS})(WPP.contact.queryExists('not a number'))"
        )
        assert invalid["code"] == "invalid_wid"
        assert simulator.sim.messages == []
        assert (await http.delete(f"/phone/not-on-whatsapp/{unknown}")).status_code == 204
    # the page caches a miss for query_cache_miss seconds (15 s in wa-js, 0.2 s here)
    await page.page.wait_for_function(
        "(n) => WPP.contact.queryExists(n).then((r) => r !== null)", arg=unknown, timeout=5000
    )


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
    simulator: Running, context: BrowserContext, open_page: PageOpener
) -> None:
    page = await open_page(context, simulator.url)
    await pair(simulator, page)
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
