"""The page side of the simulator: one :class:`PageSession` per WebSocket (``GET /ws``).

Frames and their order are documented in :mod:`sandbox.whatsapp_web._protocol`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from sandbox.whatsapp_web._linking import on_link_code_request
from sandbox.whatsapp_web._protocol import (
    build_key,
    format_full_code,
    load_public_key,
    new_ref,
    parse_chat_id,
    serialize_key,
    verify_signature,
)
from sandbox.whatsapp_web._records import Device, PendingCode, SentMessage

if TYPE_CHECKING:
    from sandbox.whatsapp_web.simulator import WhatsAppWebSimulator

__all__ = ["PageSession", "serve_page_socket"]

logger = logging.getLogger(__name__)

#: Largest frame a page may send: a 100 MiB document, base64-encoded, plus the envelope.
MAX_FRAME = 140 * 1024 * 1024
_KEY_ID = re.compile(r"^[0-9A-Za-z]{8,64}$")
_B64_KEY = re.compile(r"^[A-Za-z0-9+/]{8,88}={0,2}$")
_TYPES = frozenset(
    (
        "chat",
        "image",
        "video",
        "audio",
        "ptt",
        "document",
        "sticker",
        "location",
        "vcard",
        "multi_vcard",
    )
)


class PageSession:
    """One page's link: what it shows (codes) and who it is logged in as."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.id = secrets.token_hex(4)
        self.ws = ws
        self.challenge = secrets.token_bytes(32)
        self.keys: tuple[str, str, str] | None = None
        self.device: Device | None = None
        self.conflict = False
        self.code: PendingCode | None = None
        self.rotation: asyncio.Task[None] | None = None
        self.pairing: tuple[str, str] | None = None
        self.registered: asyncio.Future[Device] | None = None

    @property
    def phone(self) -> str | None:
        return self.device.phone if self.device else None

    @property
    def live(self) -> bool:
        """Logged in, not in conflict and still connected."""
        return self.device is not None and not self.conflict and not self.ws.closed

    async def send(self, payload: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(orjson.dumps(payload).decode())

    def stop_rotation(self) -> None:
        if self.rotation is not None and self.rotation is not asyncio.current_task():
            self.rotation.cancel()
        self.rotation = None


async def serve_page_socket(sim: WhatsAppWebSimulator, request: web.Request) -> web.StreamResponse:
    """Run one page's WebSocket until it closes."""
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    page = PageSession(ws)
    sim._attach(page)
    try:
        if sim.boot_delay > 0:
            await asyncio.sleep(sim.boot_delay)  # WhatsApp Web's loading screen
        await page.send(
            {
                "type": "welcome",
                "protocol": 1,
                "challenge": base64.b64encode(page.challenge).decode(),
                "config": sim.page_config(),
            }
        )
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            try:
                message = orjson.loads(frame.data)
            except orjson.JSONDecodeError:
                await page.send({"type": "error", "message": "frames must be JSON"})
                continue
            if isinstance(message, dict):
                await _dispatch(sim, page, message)
    finally:
        await sim._detach(page)
    return ws


async def _dispatch(sim: WhatsAppWebSimulator, page: PageSession, message: dict[str, Any]) -> None:
    kind = message.get("type")
    if kind == "hello":
        await _hello(sim, page, message)
    elif kind == "refresh-qr":
        if page.device is None and page.keys is not None and page.pairing is None:
            start_rotation(sim, page)
    elif kind == "register":
        await _register(sim, page, message)
    elif kind == "link-code":
        await on_link_code_request(sim, page, message)
    elif kind in ("find-chat", "query-exists"):
        await _exists(sim, page, message)
    elif kind == "send":
        await _send(sim, page, message)
    elif kind == "takeover":
        if page.device is not None and page.conflict:
            await sim._login(page, page.device, resumed=True)
    elif kind == "logout":
        if page.device is not None:
            await sim._forget_device(page.device, reason="user_initiated", except_page=page)
            page.device = None
            sim._recount()
    else:
        await page.send({"type": "error", "message": f"unknown frame type {kind!r}"})


async def _hello(sim: WhatsAppWebSimulator, page: PageSession, message: dict[str, Any]) -> None:
    page.stop_rotation()
    sim._set_code(page, None)
    if sim.min_version is not None:
        build, least = build_key(message.get("version")), build_key(sim.min_version)
        if build is None or (least is not None and build < least):
            await page.send({"type": "outdated", "minVersion": sim.min_version})
            return
    device_id = message.get("deviceId")
    if device_id:
        device = sim.devices.get(str(device_id))
        if device is None or not verify_signature(
            device.public_key, page.challenge, message.get("signature")
        ):
            await page.send({"type": "rejected", "reason": "unknown_companion"})
            return
        await sim._login(page, device, resumed=True)
        return
    keys = message.get("keys")
    names = ("staticKeyPair", "identityKeyPair", "secretKey")
    values = [keys.get(name) if isinstance(keys, dict) else None for name in names]
    if not all(isinstance(v, str) and _B64_KEY.match(v) for v in values):
        await page.send({"type": "error", "message": "hello needs deviceId+signature or keys"})
        return
    page.device = None
    page.conflict = False
    page.keys = (str(values[0]), str(values[1]), str(values[2]))
    sim._recount()
    start_rotation(sim, page)


def start_rotation(sim: WhatsAppWebSimulator, page: PageSession) -> None:
    """(Re)start the page's auth code rotation from the first code."""
    page.stop_rotation()
    page.rotation = asyncio.get_running_loop().create_task(_rotate(sim, page))


async def _rotate(sim: WhatsAppWebSimulator, page: PageSession) -> None:
    assert page.keys is not None
    for index in range(1, sim.max_codes + 1):
        lifetime = sim.first_qr_interval if index == 1 else sim.qr_interval
        ref = new_ref()
        code = PendingCode(
            full_code=format_full_code(ref, *page.keys),
            ref=ref,
            index=index,
            page_id=page.id,
            expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
        )
        sim._set_code(page, code)
        await page.send({"type": "ref", "ref": ref, "index": index})
        await asyncio.sleep(lifetime)
    sim._set_code(page, None)
    page.rotation = None
    await page.send({"type": "idle"})


async def _register(sim: WhatsAppWebSimulator, page: PageSession, message: dict[str, Any]) -> None:
    future = page.registered
    if page.pairing is None or message.get("deviceId") != page.pairing[0]:
        await page.send({"type": "error", "message": "register without a pending pairing"})
        return
    device_id, phone = page.pairing
    page.pairing = None
    try:
        public_key = load_public_key(message.get("publicKey"))
    except ValueError as exc:
        if future is not None and not future.done():
            future.set_exception(exc)
        await page.send({"type": "rejected", "reason": "invalid_adv_status"})
        return
    if not verify_signature(public_key, page.challenge, message.get("signature")):
        if future is not None and not future.done():
            future.set_exception(ValueError("the page's signature did not verify"))
        await page.send({"type": "rejected", "reason": "invalid_adv_status"})
        return
    device = Device(device_id, phone, public_key, datetime.now(UTC))
    sim.devices[device_id] = device
    page.keys = None
    await sim._login(page, device, resumed=False)
    if future is not None and not future.done():
        future.set_result(device)


async def _exists(sim: WhatsAppWebSimulator, page: PageSession, message: dict[str, Any]) -> None:
    seq = message.get("seq")
    if page.device is None:
        error = {"code": "not_authenticated", "message": "log in first"}
        await page.send({"type": "result", "seq": seq, "ok": False, "error": error})
        return
    if message.get("type") == "find-chat" and sim.refusals:  # a send's chat lookup
        code = sim.refusals.pop(0)
        error = {"code": code, "message": f"WhatsApp refused the message ({code})"}
        await page.send({"type": "result", "seq": seq, "ok": False, "error": error})
        sim.notify()
        return
    try:
        chat = parse_chat_id(f"{message.get('user')}@{message.get('server')}")
    except ValueError:
        await page.send({"type": "result", "seq": seq, "ok": True, "exists": False})
        return
    phone = sim.phone_of_lid(chat.user) if chat.server == "lid" else chat.user
    exists = phone is not None and phone not in sim.not_on_whatsapp
    answer: dict[str, Any] = {"type": "result", "seq": seq, "ok": True, "exists": exists}
    lid = sim.lids.get(phone) if exists and phone is not None else None
    if lid is not None:
        answer["lid"] = f"{lid}@lid"  # WhatsApp addresses this chat by its LID
    await page.send(answer)


def _text(value: object, limit: int = 65536) -> str | None:
    return str(value)[:limit] if value is not None else None


async def _send(sim: WhatsAppWebSimulator, page: PageSession, message: dict[str, Any]) -> None:
    seq = message.get("seq")

    async def fail(code: str, text: str) -> None:
        error = {"code": code, "message": text}
        await page.send({"type": "result", "seq": seq, "ok": False, "error": error})

    device = page.device
    if device is None or page.conflict:
        await fail("not_connected", "the page is not logged in or is in conflict")
        return
    body = message.get("message")
    if not isinstance(body, dict):
        await fail("invalid_message", "send needs a message object")
        return
    key_id, kind = body.get("id"), body.get("type")
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id) or kind not in _TYPES:
        await fail("invalid_message", "message needs an id and a known type")
        return
    try:
        chat = parse_chat_id(body.get("to"))
    except ValueError as exc:
        await fail("invalid_wid", str(exc))
        return
    existing = sim.message(serialize_key(True, chat.serialized, key_id))
    if existing is not None and existing.from_phone == device.phone:
        # WhatsApp de-duplicates by message id: a resend is not a second message.
        await page.send({"type": "result", "seq": seq, "ok": True, "t": existing.t})
        return
    media: bytes | None = None
    if isinstance(body.get("media"), str):
        try:
            media = base64.b64decode(body["media"], validate=True)
        except (binascii.Error, ValueError):
            await fail("invalid_media", "media must be base64")
            return
    now = datetime.now(UTC)
    record = SentMessage(
        id=serialize_key(True, chat.serialized, key_id),
        key_id=key_id,
        from_phone=device.phone,
        device_id=device.device_id,
        to=(sim.phone_of_lid(chat.user) if chat.server == "lid" else None) or chat.user,
        chat_id=chat.serialized,
        type=str(kind),
        t=int(time.time()),
        sent_at=now,
        body=_text(body.get("body")),
        caption=_text(body.get("caption")),
        filename=_text(body.get("filename"), 512),
        mimetype=_text(body.get("mimetype"), 256),
        size=len(media) if media is not None else None,
        media=media,
        location=body["location"] if isinstance(body.get("location"), dict) else None,
        contacts=body["contacts"] if isinstance(body.get("contacts"), list) else None,
        vcard=_text(body.get("vcard")),
    )
    sim.messages.append(record)
    logger.debug("simulator recorded a message", extra={"message_id": record.id})
    await page.send({"type": "result", "seq": seq, "ok": True, "t": record.t})
    sim.notify()
