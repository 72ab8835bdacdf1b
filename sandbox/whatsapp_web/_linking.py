"""Linking a page to a phone: by QR scan or by pairing code (link by phone number).

A scan (``POST /phone/scan``) and an entered pairing code (``POST /phone/link-code``) end
the same way: the server tells the page ``paired`` and waits for it to register its new
key pair (:func:`pair`). A phone can also fail a scan (:func:`fail_pairing`): the page
shows ``PAIRING``, then a new QR code, as WhatsApp Web does when the phone says "Couldn't
link device".

Pairing codes: the unpaired page sends ``link-code`` (``seq``, ``phone``) when wa-js's
``WPP.conn.genLinkDeviceCodeForPhoneNumber(phone)`` is called; the server answers with an
8-character code from WhatsApp's alphabet (digits and capitals without ``0``, ``I``,
``O``, ``U``), valid ``link_code_ttl`` seconds, replacing the page's previous code. Only
the phone of that number can enter it.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sandbox.whatsapp_web._protocol import clean_phone
from sandbox.whatsapp_web._records import Device, PendingLinkCode

if TYPE_CHECKING:
    from sandbox.whatsapp_web._core import SimulatorCore
    from sandbox.whatsapp_web._socket import PageSession

__all__ = [
    "LINK_CODE_ALPHABET",
    "LinkCodeRefused",
    "enter_link_code",
    "fail_pairing",
    "new_link_code",
    "normalize_link_code",
    "on_link_code_request",
    "pair",
]

#: WhatsApp's pairing-code alphabet (Crockford-like: no 0, I, O, U).
LINK_CODE_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
_ENTERED = re.compile(r"^[0-9A-Z]{4}-?[0-9A-Z]{4}$")
#: Expired codes remembered (to answer "expired" rather than "wrong").
_EXPIRED_KEPT = 1000


class LinkCodeRefused(Exception):
    """The phone refused an entered code: ``reason`` ``wrong_code`` or ``expired``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def new_link_code() -> str:
    return "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(8))


def normalize_link_code(entered: str) -> str:
    """``abcd-efgh`` or ``ABCDEFGH`` -> ``ABCDEFGH``; ``ValueError`` when it is not a code."""
    code = entered.strip().upper().replace(" ", "")
    if not _ENTERED.match(code):
        raise ValueError("code must be 8 letters or digits, as ABCD-EFGH")
    return code.replace("-", "")


async def pair(sim: SimulatorCore, page: PageSession, digits: str, timeout: float) -> Device:  # noqa: ASYNC109
    """Tell ``page`` that the phone ``digits`` linked it; wait for it to register."""
    page.stop_rotation()
    sim._set_code(page, None)
    _drop_link_codes(sim, page)
    numbers = sim._device_numbers.setdefault(digits, itertools.count(1))
    device_id = f"{digits}:{next(numbers)}@c.us"
    page.pairing = (device_id, digits)
    future: asyncio.Future[Device] = asyncio.get_running_loop().create_future()
    page.registered = future
    await page.send({"type": "paired", "deviceId": device_id, "phone": digits})
    try:
        async with asyncio.timeout(timeout):
            return await future
    except TimeoutError:
        page.pairing = None
        raise TimeoutError("the page did not finish pairing in time") from None
    finally:
        page.registered = None


async def fail_pairing(sim: SimulatorCore, page: PageSession, reason: str) -> None:
    """The phone scanned ``page``'s code but the link failed: a new code follows."""
    from sandbox.whatsapp_web._socket import start_rotation

    page.stop_rotation()
    sim._set_code(page, None)
    await page.send({"type": "pair-failed", "reason": reason})
    start_rotation(sim, page)  # type: ignore[arg-type]


async def on_link_code_request(
    sim: SimulatorCore, page: PageSession, message: dict[str, Any]
) -> None:
    """The page's ``link-code`` frame: a new pairing code for ``phone``, or an error."""
    seq = message.get("seq")

    async def fail(code: str, text: str) -> None:
        error = {"code": code, "message": text}
        await page.send({"type": "result", "seq": seq, "ok": False, "error": error})

    if page.device is not None or page.keys is None or page.pairing is not None:
        await fail("cannot_get_code_for_already_authenticated", "the page is not unpaired")
        return
    try:
        digits = clean_phone(message.get("phone"))
    except ValueError as exc:
        await fail("invalid_phone_number", str(exc))
        return
    _drop_link_codes(sim, page)  # WhatsApp keeps one code per page: the newest
    code = new_link_code()
    while code in sim.link_codes:
        code = new_link_code()
    expires = datetime.now(UTC) + timedelta(seconds=sim.link_code_ttl)
    sim.link_codes[code] = PendingLinkCode(code, digits, page.id, expires)
    asyncio.get_running_loop().call_later(sim.link_code_ttl, _expire, sim, code)
    sim.notify()
    await page.send({"type": "result", "seq": seq, "ok": True, "code": code})


async def enter_link_code(sim: SimulatorCore, entered: str, phone: str, timeout: float) -> Device:  # noqa: ASYNC109
    """The phone ``phone`` enters ``entered``; the page that asked for it is linked."""
    code = normalize_link_code(entered)
    digits = clean_phone(phone)
    pending = sim.link_codes.get(code)
    if pending is None:
        if sim.expired_link_codes.get(code) == digits:
            raise LinkCodeRefused("expired", "this code expired: ask for a new one")
        raise LinkCodeRefused("wrong_code", "this code is not valid for this phone number")
    if pending.phone != digits:
        raise LinkCodeRefused("wrong_code", "this code is not valid for this phone number")
    page = sim._pages.get(pending.page_id)
    if page is None or page.device is not None or page.keys is None:
        sim.link_codes.pop(code, None)
        raise ConnectionError("the page that asked for this code went away")
    del sim.link_codes[code]
    return await pair(sim, page, digits, timeout)


def _drop_link_codes(sim: SimulatorCore, page: PageSession) -> None:
    for code in [c for c, p in sim.link_codes.items() if p.page_id == page.id]:
        del sim.link_codes[code]


def _expire(sim: SimulatorCore, code: str) -> None:
    pending = sim.link_codes.pop(code, None)
    if pending is None:
        return
    sim.expired_link_codes[code] = pending.phone
    while len(sim.expired_link_codes) > _EXPIRED_KEPT:
        del sim.expired_link_codes[next(iter(sim.expired_link_codes))]
    sim.notify()
