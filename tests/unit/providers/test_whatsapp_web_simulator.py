"""The WhatsApp Web simulator's server without a browser: pure helpers, the page protocol
spoken by a scripted client (keys from ``cryptography``), and the phone API's checks.

The browser side is covered by tests/integration/sandbox/test_whatsapp_web_simulator.py.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sandbox import serve_app
from sandbox.whatsapp_web import WhatsAppWebSimulator
from sandbox.whatsapp_web._protocol import (
    clean_phone,
    format_full_code,
    load_public_key,
    new_ref,
    parse_chat_id,
    parse_full_code,
    parse_serialized_key,
    serialize_key,
    verify_signature,
)

PHONE = "5511999990000"
FRIEND = "5511988887777"
KEYS = {
    "staticKeyPair": "QUFBQUFBQUE=",
    "identityKeyPair": "QkJCQkJCQkI=",
    "secretKey": "Q0NDQ0NDQ0M=",
}


def raw_signature(key: ec.EllipticCurvePrivateKey, message: bytes) -> str:
    """What WebCrypto returns for ECDSA: r || s, 32 bytes each."""
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


def spki(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


# --- pure helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "digits"),
    [("+55 (11) 99999-0000", PHONE), (f"{PHONE}@c.us", PHONE), (f"{PHONE}:3@c.us", PHONE)],
)
def test_clean_phone_accepts_human_and_wid_spellings(raw: str, digits: str) -> None:
    assert clean_phone(raw) == digits


@pytest.mark.parametrize("raw", ["12", "0055119999", "x", "", True, None, "1" * 16])
def test_clean_phone_rejects_non_numbers(raw: Any) -> None:
    with pytest.raises(ValueError, match="phone"):
        clean_phone(raw)


def test_chat_ids_and_message_keys() -> None:
    assert parse_chat_id(FRIEND).serialized == f"{FRIEND}@c.us"
    assert parse_chat_id(f"{FRIEND}@s.whatsapp.net").serialized == f"{FRIEND}@c.us"
    assert parse_chat_id("123456789012345@lid").server == "lid"
    for bad in ("123-456@g.us", "abc@c.us", "status@broadcast", "", None):
        with pytest.raises(ValueError, match="chat id"):
            parse_chat_id(bad)
    key = serialize_key(True, f"{FRIEND}@c.us", "3EB0AAAABBBBCCCCDDDD")
    assert key == f"true_{FRIEND}@c.us_3EB0AAAABBBBCCCCDDDD"
    assert parse_serialized_key(key) == (True, f"{FRIEND}@c.us", "3EB0AAAABBBBCCCCDDDD")
    with pytest.raises(ValueError, match="message key"):
        parse_serialized_key("maybe_x_y")


def test_full_codes_round_trip_and_reject_other_text() -> None:
    ref = new_ref()
    assert ref.startswith("2@")
    assert "," not in ref
    code = format_full_code(ref, *KEYS.values())
    parts = parse_full_code(code)
    assert (parts.ref, parts.full_code) == (ref, code)
    for bad in ("", "1@abc,a,b,c", f"{ref},a,b", f"{ref},not base64!,QQ==,QQ==", 42):
        with pytest.raises(ValueError, match="code"):
            parse_full_code(bad)


def test_signatures_are_checked_against_the_registered_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = load_public_key(spki(key))
    challenge = b"c" * 32
    signature = raw_signature(key, challenge)
    assert verify_signature(der, challenge, signature) is True
    assert verify_signature(der, b"other", signature) is False
    other = load_public_key(spki(ec.generate_private_key(ec.SECP256R1())))
    assert verify_signature(other, challenge, signature) is False
    assert verify_signature(der, challenge, "not base64") is False
    assert verify_signature(der, challenge, None) is False
    rsa_der = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="P-256"):
        load_public_key(base64.b64encode(rsa_der).decode())
    with pytest.raises(ValueError, match="SPKI"):
        load_public_key("bm90IGEga2V5")


# --- the page protocol, spoken by a script -------------------------------------------------


@dataclass
class Env:
    sim: WhatsAppWebSimulator
    url: str
    http: httpx.AsyncClient
    session: aiohttp.ClientSession

    @classmethod
    @asynccontextmanager
    async def serving(cls, sim: WhatsAppWebSimulator) -> AsyncIterator[Env]:
        """``sim`` served on a loopback port, with an HTTP client and a websocket session."""
        async with (
            serve_app(sim.app) as url,
            httpx.AsyncClient(base_url=url) as http,
            aiohttp.ClientSession() as session,
        ):
            yield cls(sim, url, http, session)


class ScriptedPage:
    """A client of ``/ws`` that behaves like the simulator page (without a browser)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.challenge = b""
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.seq = 0

    async def next(self, kind: str | None = None) -> dict[str, Any]:
        async with asyncio.timeout(5):
            while True:
                frame = orjson.loads(await self.ws.receive_str())
                if kind is None or frame["type"] == kind:
                    return dict(frame)

    async def send(self, payload: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(payload).decode())

    async def welcome(self) -> dict[str, Any]:
        frame = await self.next("welcome")
        self.challenge = base64.b64decode(frame["challenge"])
        return frame

    async def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        await self.send({**payload, "seq": self.seq})
        answer = await self.next("result")
        assert answer["seq"] == self.seq
        return answer

    def sign(self) -> str:
        return raw_signature(self.key, self.challenge)


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    async with Env.serving(WhatsAppWebSimulator(qr_interval=30, max_codes=2)) as env:
        yield env


async def open_page(env: Env) -> ScriptedPage:
    page = ScriptedPage(await env.session.ws_connect(f"{env.url}/ws"))
    await page.welcome()
    return page


async def pair(env: Env, page: ScriptedPage, phone: str = PHONE) -> str:
    await page.send({"type": "hello", "deviceId": None, "keys": KEYS})
    ref = await page.next("ref")
    code = format_full_code(ref["ref"], *KEYS.values())
    scanning = asyncio.ensure_future(env.sim.scan(code, phone))
    paired = await page.next("paired")
    await page.send(
        {
            "type": "register",
            "deviceId": paired["deviceId"],
            "publicKey": spki(page.key),
            "signature": page.sign(),
        }
    )
    connected = await page.next("connected")
    assert connected == {
        "type": "connected",
        "deviceId": paired["deviceId"],
        "phone": phone,
        "resumed": False,
    }
    assert (await scanning).device_id == paired["deviceId"]
    return str(paired["deviceId"])


async def test_pairing_sending_acks_and_incoming_over_the_page_protocol(env: Env) -> None:
    page = await open_page(env)
    await page.send({"type": "hello", "deviceId": None, "keys": KEYS})
    ref = await page.next("ref")
    assert ref["index"] == 1
    codes = (await env.http.get("/phone/pending-codes")).json()["codes"]
    assert [c["fullCode"] for c in codes] == [format_full_code(ref["ref"], *KEYS.values())]
    await page.send({"type": "refresh-qr"})
    assert (await page.next("ref"))["ref"] != ref["ref"]

    device_id = await pair(env, page)
    assert env.sim.pending_codes() == []
    assert (await page.request({"type": "find-chat", "user": FRIEND, "server": "c.us"}))[
        "exists"
    ] is True
    env.sim.mark_not_on_whatsapp(FRIEND)
    assert (await page.request({"type": "query-exists", "user": FRIEND, "server": "c.us"}))[
        "exists"
    ] is False
    env.sim.mark_on_whatsapp(FRIEND)

    message = {"id": "3EB0AAAABBBBCCCCDDDD", "to": f"{FRIEND}@c.us", "type": "chat", "body": "hi"}
    first = await page.request({"type": "send", "message": message})
    again = await page.request({"type": "send", "message": message})
    assert first["ok"] is True
    assert again == {**first, "seq": again["seq"]}
    assert [m.body for m in env.sim.messages] == ["hi"]
    sent = env.sim.messages[0]
    assert (sent.id, sent.from_phone, sent.to, sent.device_id) == (
        f"true_{FRIEND}@c.us_3EB0AAAABBBBCCCCDDDD",
        PHONE,
        FRIEND,
        device_id,
    )
    bad = await page.request({"type": "send", "message": {**message, "type": "poll"}})
    assert bad["ok"] is False
    assert bad["error"]["code"] == "invalid_message"

    await env.sim.ack("3EB0AAAABBBBCCCCDDDD", 3)
    assert await page.next("ack") == {
        "type": "ack",
        "ack": 3,
        "chat": f"{FRIEND}@c.us",
        "ids": [sent.key_id],
    }
    incoming = await env.sim.incoming(PHONE, FRIEND, "hello back", notify_name="Bob")
    frame = await page.next("message")
    assert frame["message"]["id"] == incoming.key_id
    assert frame["message"]["body"] == "hello back"


async def test_restore_needs_the_registered_key_and_a_second_page_causes_a_conflict(
    env: Env,
) -> None:
    first = await open_page(env)
    device_id = await pair(env, first)

    thief = await open_page(env)
    await thief.send({"type": "hello", "deviceId": device_id, "signature": thief.sign()})
    assert await thief.next() == {"type": "rejected", "reason": "unknown_companion"}

    second = await open_page(env)
    second.key = first.key  # a real copy of the profile holds the same key
    await second.send({"type": "hello", "deviceId": device_id, "signature": second.sign()})
    assert (await second.next("connected"))["resumed"] is True
    assert await first.next() == {"type": "conflict"}
    [stats] = env.sim.sessions()
    assert (stats.open, stats.live, stats.max_concurrent, stats.max_live) == (2, 1, 2, 1)

    await first.send({"type": "takeover"})
    assert (await first.next("connected"))["resumed"] is True
    assert await second.next() == {"type": "conflict"}

    response = await env.http.post("/phone/logout", json={"phone": PHONE})
    assert response.status_code == 200
    assert await first.next() == {"type": "logout", "reason": "unknown_companion"}
    assert await second.next() == {"type": "logout", "reason": "unknown_companion"}
    assert env.sim.devices == {}


async def test_offline_deliveries_wait_for_the_next_login(env: Env) -> None:
    page = await open_page(env)
    device_id = await pair(env, page)
    assert await env.sim.disconnect(PHONE, seconds=30) == 1
    await page.ws.close()
    queued = await env.sim.incoming(PHONE, FRIEND, "while you were away")
    assert queued.delivered == 0
    early = await open_page(env)
    early.key = page.key
    await early.send({"type": "hello", "deviceId": device_id, "signature": early.sign()})
    assert await early.next() == {"type": "unavailable"}

    await env.sim.disconnect(PHONE, seconds=0)  # the phone is back online
    back = await open_page(env)
    back.key = page.key
    await back.send({"type": "hello", "deviceId": device_id, "signature": back.sign()})
    await back.next("connected")
    assert (await back.next("message"))["message"]["body"] == "while you were away"


# --- the phone API's checks and the page's files -------------------------------------------


async def test_phone_api_rejects_bad_requests(env: Env) -> None:
    http = env.http
    code = format_full_code(new_ref(), *KEYS.values())
    assert (await http.post("/phone/scan", json={"code": code, "phone": PHONE})).status_code == 404
    assert (
        await http.post("/phone/scan", json={"code": "nope", "phone": PHONE})
    ).status_code == 400
    assert (await http.post("/phone/scan", content=b"{")).status_code == 400
    assert (await http.post("/phone/messages/3EB0AAAA/ack", json={"ack": 2})).status_code == 404
    assert (await http.post("/phone/messages/3EB0AAAA/ack", json={"ack": 5})).status_code == 400
    assert (await http.get("/phone/messages/3EB0AAAA")).status_code == 404
    incoming = {"to": PHONE, "from": FRIEND, "body": "hi"}
    assert (await http.post("/phone/incoming", json=incoming)).status_code == 404
    assert (await http.post("/phone/logout", json={"phone": PHONE})).status_code == 404
    assert (await http.post("/phone/conflict", json={"phone": PHONE})).status_code == 404
    assert (await http.post("/phone/not-on-whatsapp", json={"phone": "12"})).status_code == 400
    assert (await http.get("/phone/sessions")).json() == {"sessions": []}
    assert (await http.get("/phone/messages", params={"to": "12"})).status_code == 400


async def test_the_page_and_its_files_are_served(env: Env) -> None:
    page = await env.http.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    for name in ("wa-base.js", "wa-sim.js", "wa-conn.js", "wa-chat.js", "page.js"):
        assert f'src="/static/{name}"' in page.text
        script = await env.http.get(f"/static/{name}")
        assert script.status_code == 200
        assert script.headers["Cache-Control"] == "no-store"
    assert (await env.http.get("/static/index.html")).status_code == 404
    assert (await env.http.get("/static/../simulator.py")).status_code == 404
    qr = await env.http.get("/qr.svg", params={"data": format_full_code(new_ref(), *KEYS.values())})
    assert qr.status_code == 200
    assert qr.headers["Content-Type"] == "image/svg+xml"
    assert (await env.http.get("/qr.svg")).status_code == 400
    assert (await env.http.get("/health")).json() == {"status": "ok", "pages": 0}
