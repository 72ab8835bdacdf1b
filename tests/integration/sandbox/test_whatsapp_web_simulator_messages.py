"""The WhatsApp Web simulator's messages, driven by real headless Chromium (Playwright):
the send functions and their wa-js shapes, acks posted by the phone, incoming messages,
numbers not on WhatsApp."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.integration.sandbox.conftest import Running, SimPage
from tests.integration.sandbox.test_whatsapp_web_simulator import FRIEND, PHONE, send_text

pytestmark = pytest.mark.integration

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
REJECTION_JS = (
    "(p) => p.then(() => null, (e) => ({code: e && e.code, message: String(e && e.message || e)}))"
)


def acks_of(page: SimPage, message_id: str) -> list[int]:
    return [
        args[0]["ack"]
        for args in page.events.find("chat.msg_ack_change")
        if any(key["_serialized"] == message_id for key in args[0]["ids"])
    ]


async def test_send_functions_record_messages_and_return_wa_js_shapes(
    simulator: Running, paired_page: SimPage
) -> None:
    page = paired_page
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
    simulator: Running, paired_page: SimPage
) -> None:
    page = paired_page
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
    simulator: Running, paired_page: SimPage
) -> None:
    page = paired_page
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


async def test_numbers_marked_not_on_whatsapp(simulator: Running, paired_page: SimPage) -> None:
    page = paired_page
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
