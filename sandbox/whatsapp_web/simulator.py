"""A local stand-in for WhatsApp Web, for tests, demos and UI teams without a phone.

``herald sandbox whatsapp-web --port P`` (or :class:`WhatsAppWebSimulator` with
:func:`~sandbox.serve_app`) serves:

* ``GET /``: a page whose ``window.WPP`` implements, under the same names and with the
  argument and return shapes of the pinned ``@wppconnect/wa-js`` declarations, the part of
  wa-js that Herald's bridge uses (``providers/wppconnect/_contract.py``). It keeps its
  pairing where WhatsApp Web does: ``last-wid-md`` in localStorage and a non-extractable
  ECDSA key pair (a ``CryptoKey``) in IndexedDB, so only a real copy of the browser profile
  restores a login. Its auth code rotates every ``qr_interval`` seconds.
* ``/phone/...``: "the phone" over HTTP (scan a code or fail a scan, enter a pairing
  code (link by phone number), see what was sent, make acks
  happen, write to a session, log out, cause a conflict, mark numbers as not on
  WhatsApp), mirrored by the Python methods of this class. See ``_http.py``.
* ``GET /ws``: the page's link to this server (protocol in ``_protocol.py``).

Example::

    sim = WhatsAppWebSimulator(qr_interval=1)
    async with serve_app(sim.app) as url:
        ...  # open url in Chromium; code = (await sim.wait_for(sim.pending_codes))[0]
        device = await sim.scan(code.full_code, "5511999990000")
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from typing import TYPE_CHECKING, TypeVar

from sandbox.whatsapp_web import _linking
from sandbox.whatsapp_web._core import SimulatorCore
from sandbox.whatsapp_web._protocol import (
    ACK_MAX,
    ACK_MIN,
    BLOCK_STATES,
    clean_phone,
    incoming_key_id,
    parse_full_code,
    parse_serialized_key,
    serialize_key,
)
from sandbox.whatsapp_web._records import (
    Device,
    IncomingMessage,
    PendingCode,
    PendingLinkCode,
    SentMessage,
    SessionStats,
)

if TYPE_CHECKING:
    from sandbox.whatsapp_web._socket import PageSession

__all__ = ["BLOCK_STATES", "WhatsAppWebSimulator"]

_T = TypeVar("_T")


class WhatsAppWebSimulator(SimulatorCore):
    """The simulated WhatsApp servers and phones behind any number of simulated pages.

    ``qr_interval``: seconds each auth code lives (``first_qr_interval`` for the first one;
    WhatsApp gives the first about 60 s); after ``max_codes`` codes the page goes
    UNPAIRED_IDLE until ``WPP.conn.refreshQR()``. ``reload_on_logout``: after a logout the
    page navigates to ``/?post_logout=1`` like WhatsApp Web (else it shows a new QR code in
    place). ``reload_after_pairing``: the page reloads once right after a scan, as
    WhatsApp Web sometimes does. ``query_cache_hit``/``query_cache_miss``: how long the
    page caches ``queryExists`` answers (wa-js: 300 s and 15 s). ``boot_delay``: seconds
    a page waits for the server's first frame, like WhatsApp Web's loading screen (0: none;
    events then start within milliseconds of the page's load). ``link_code_ttl``: seconds
    a pairing code (link by phone number) can be entered. ``min_version``: the oldest
    WhatsApp Web build accepted (the page's ``<meta name="wa-version">``, 2.3000.1000000000
    for the simulator's own page); older pages get ``conn.needs_update`` and
    ``DEPRECATED_VERSION``, as WhatsApp does with outdated clients.
    """

    # --- the phone (Python API; the HTTP API in _http.py calls these) ------------------

    def pending_codes(self) -> list[PendingCode]:
        """The auth codes pages are showing now, oldest page first."""
        return list(self._codes.values())

    async def scan(self, code: str, phone: str) -> Device:
        """Scan ``code`` (a QR's text, ``AuthCodeMultiDevice.fullCode``) with ``phone``.

        Waits until the page stored its new key pair and logged in; returns the device.
        ``ValueError``: not a code or not a phone number. ``LookupError``: no page shows
        that code (expired or never shown). ``ConnectionError``: the page went away.
        ``TimeoutError``: the page did not finish within ``scan_timeout`` seconds.
        """
        page, digits = self._scanned(code, phone)
        return await _linking.pair(self, page, digits, self.scan_timeout)

    async def fail_scan(self, code: str, phone: str, reason: str = "pairing_failed") -> None:
        """``phone`` scans ``code`` but the link fails ("Couldn't link device").

        The page goes ``PAIRING``, then back to ``UNPAIRED`` with a new code. Errors as
        :meth:`scan`'s.
        """
        page, _ = self._scanned(code, phone)
        await _linking.fail_pairing(self, page, reason)

    def _scanned(self, code: str, phone: str) -> tuple[PageSession, str]:
        parts = parse_full_code(code)
        digits = clean_phone(phone)
        pending = self._codes.get(parts.ref)
        page = self._pages.get(pending.page_id) if pending else None
        if pending is None or page is None or pending.full_code != parts.full_code:
            raise LookupError("no page is showing this code (it expired or was never shown)")
        return page, digits

    def pending_link_codes(self) -> list[PendingLinkCode]:
        """The pairing codes pages asked for that can be entered now."""
        return list(self.link_codes.values())

    async def enter_link_code(self, code: str, phone: str) -> Device:
        """``phone`` enters the pairing ``code`` (``ABCD-EFGH``): its page is linked.

        Then as :meth:`scan`. ``LinkCodeRefused`` (``reason`` ``wrong_code`` or
        ``expired``): the phone refuses the code. ``ValueError``: not a code or a phone.
        """
        return await _linking.enter_link_code(self, code, phone, self.scan_timeout)

    def message(self, message_id: str) -> SentMessage | None:
        """A sent message by its serialized id (``true_<chat>_<id>``) or bare key id."""
        if message_id.startswith(("true_", "false_")):
            with contextlib.suppress(ValueError):
                _, remote, key_id = parse_serialized_key(message_id)
                return next(
                    (m for m in self.messages if m.key_id == key_id and m.chat_id == remote),
                    None,
                )
            return None
        return next((m for m in self.messages if m.key_id == message_id), None)

    def sent(self, *, to: str | None = None, from_: str | None = None) -> list[SentMessage]:
        """Sent messages, optionally only those to or from a number."""
        to_digits = clean_phone(to) if to else None
        from_digits = clean_phone(from_) if from_ else None
        return [
            m
            for m in self.messages
            if (to_digits is None or m.to == to_digits)
            and (from_digits is None or m.from_phone == from_digits)
        ]

    async def ack(self, message_id: str, ack: int) -> SentMessage:
        """Make ``ack`` (-7..4: 2 delivered, 3 read, 4 played, -1 failed) happen for a message.

        The sending session's pages emit ``chat.msg_ack_change``; a session with no page
        online gets it when a page logs in again.
        """
        if isinstance(ack, bool) or not isinstance(ack, int) or not ACK_MIN <= ack <= ACK_MAX:
            raise ValueError(f"ack must be an integer from {ACK_MIN} to {ACK_MAX}")
        message = self.message(message_id)
        if message is None:
            raise LookupError(f"no message {message_id!r}")
        message.ack = ack
        message.acks.append(ack)
        payload = {"type": "ack", "ack": ack, "chat": message.chat_id, "ids": [message.key_id]}
        await self._deliver(message.from_phone, payload)
        self.notify()
        return message

    async def incoming(
        self, to: str, from_: str, body: str, *, notify_name: str | None = None
    ) -> IncomingMessage:
        """``from_`` writes ``body`` to the session of ``to``: its pages emit ``chat.new_message``."""
        to_digits, from_digits = clean_phone(to), clean_phone(from_)
        if not any(d.phone == to_digits for d in self.devices.values()):
            raise LookupError(f"{to_digits} has no linked device (scan a code first)")
        key_id = incoming_key_id()
        message = IncomingMessage(
            id=serialize_key(False, f"{from_digits}@c.us", key_id),
            key_id=key_id,
            to=to_digits,
            from_phone=from_digits,
            body=body,
            t=int(time.time()),
            notify_name=notify_name,
        )
        self.incoming_messages.append(message)
        message.delivered = await self._deliver(
            to_digits, {"type": "message", "message": message.page_payload()}
        )
        self.notify()
        return message

    async def logout(
        self, phone: str, *, device_id: str | None = None, reason: str = "unknown_companion"
    ) -> list[Device]:
        """The phone removes its linked devices (or one): their pages log out."""
        digits = clean_phone(phone)
        removed = [
            d
            for d in self.devices.values()
            if d.phone == digits and (device_id is None or d.device_id == device_id)
        ]
        if not removed:
            raise LookupError(f"{digits} has no linked device")
        for device in removed:
            await self._forget_device(device, reason=reason)
        self._recount()
        return removed

    async def conflict(self, phone: str) -> int:
        """The session of ``phone`` is opened elsewhere: its live pages go to CONFLICT."""
        digits = clean_phone(phone)
        pages = [p for p in self._pages.values() if p.live and p.phone == digits]
        if not pages:
            raise LookupError(f"{digits} has no page online")
        for page in pages:
            page.conflict = True
            await page.send({"type": "conflict"})
        self._recount()
        return len(pages)

    async def block(self, phone: str, state: str) -> int:
        """WhatsApp refuses the session of ``phone``: its live pages go to ``state``."""
        if state not in BLOCK_STATES:
            raise ValueError(f"state must be one of {', '.join(sorted(BLOCK_STATES))}")
        digits = clean_phone(phone)
        pages = [p for p in self._pages.values() if p.live and p.phone == digits]
        if not pages:
            raise LookupError(f"{digits} has no page online")
        for page in pages:
            page.conflict = True  # no longer live: nothing is delivered to it
            await page.send({"type": "blocked", "state": state})
        self._recount()
        return len(pages)

    def refuse(self, code: str, count: int = 1) -> None:
        """Refuse the next ``count`` sends (any page) with the wa-js error ``code``."""
        self.refusals.extend([code] * count)
        self.notify()

    async def disconnect(self, phone: str, *, seconds: float = 0.0) -> int:
        """Drop the links of ``phone``'s pages; they may log in again after ``seconds``."""
        digits = clean_phone(phone)
        self._offline_until[digits] = asyncio.get_running_loop().time() + max(seconds, 0.0)
        pages = [p for p in self._pages.values() if p.phone == digits]
        for page in pages:
            await page.ws.close(code=1001, message=b"simulated network failure")
        return len(pages)

    def sessions(self) -> list[SessionStats]:
        return [dataclasses.replace(s) for s in self.stats.values()]

    def clear_messages(self) -> None:
        self.messages.clear()
        self.incoming_messages.clear()
        self.notify()

    async def close(self) -> None:
        """Stop every code rotation and close every page's link."""
        for page in list(self._pages.values()):
            page.stop_rotation()
            await page.ws.close(code=1001, message=b"simulator shutting down")
