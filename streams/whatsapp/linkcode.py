"""Link by phone number: a pairing code instead of a QR code.

A mixin of :class:`~streams.whatsapp.session.WhatsAppSession`. WhatsApp lets a phone link
a device by entering an 8-character code (WhatsApp -> Linked devices -> Link with phone
number) that the unpaired page asks WhatsApp for: wa-js
``WPP.conn.genLinkDeviceCodeForPhoneNumber(phone)``. :meth:`request_link_code` waits for
the run's page to load unpaired, asks for the code, restarts ``autoClose`` (a person is
typing it now) and hands it to the listener (``whatsapp.qr``, as ``pairingCode``). Codes
the page announces itself (``conn.link_code_change``: wa-js's managed flow renews a code
WhatsApp asked to refresh) go the same way. Once the phone enters the code the page logs
in exactly as after a QR scan: ``qrReadSuccess``, then ``inChat``.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from providers._exceptions import PermanentError, RetryableError
from schemas.status import utcnow
from streams.whatsapp.driver import DriverError, WppError
from streams.whatsapp.options import LinkCode, SessionPhase
from streams.whatsapp.pairing import PairingMixin

__all__ = [
    "ALREADY_LINKED",
    "LINK_CODE_TTL_SECONDS",
    "LINK_CODE_UNAVAILABLE",
    "LinkCodeMixin",
    "format_link_code",
]

#: How long Herald announces a pairing code as valid. WhatsApp does not say; wa-js's
#: managed flow (``startLinkDeviceCodeForPhoneNumber``) renews a code after 195 s.
LINK_CODE_TTL_SECONDS = 180
#: The session is logged in already: no code to link it (permanent for this request).
ALREADY_LINKED = "already_linked"
#: The page did not load, or WhatsApp gave no code (retryable).
LINK_CODE_UNAVAILABLE = "link_code_unavailable"
#: wa-js's codes for the refusals that are the caller's doing (permanent); any other
#: failure may pass (retryable).
_REFUSED = {
    "cannot_get_code_for_already_authenticated": ALREADY_LINKED,
    "send_the_phone_number_to_connect": "invalid_phone",
    "invalid_phone_number": "invalid_phone",
}
_PLAIN = re.compile(r"^[0-9A-Z]{8}$")


def format_link_code(raw: str) -> str:
    """``ABCDEFGH`` (as WhatsApp hands it out) -> ``ABCD-EFGH`` (as phones show it)."""
    code = raw.strip().upper()
    return f"{code[:4]}-{code[4:]}" if _PLAIN.match(code) else code


class LinkCodeMixin(PairingMixin):
    async def request_link_code(self, phone: str, *, timeout: float) -> LinkCode:  # noqa: ASYNC109
        """A pairing code for ``phone`` (digits); the page must load unpaired first.

        ``PermanentError`` (``already_linked``, ``invalid_phone``): the request cannot
        succeed as it is. ``RetryableError`` (``link_code_unavailable``, or the code the
        session closed with): not now.
        """
        await self._await_loaded(timeout)
        if self._authenticated:
            raise PermanentError(ALREADY_LINKED, "the session is linked to a phone already")
        if self.phase not in (SessionPhase.STARTING, SessionPhase.PAIRING):
            raise RetryableError(LINK_CODE_UNAVAILABLE, f"the session is {self.phase.value}")
        self._link_phone = phone
        try:
            async with asyncio.timeout(timeout):
                raw = await self.call("conn.genLinkDeviceCodeForPhoneNumber", phone)
        except TimeoutError as exc:
            raise RetryableError(
                LINK_CODE_UNAVAILABLE, "WhatsApp Web gave no pairing code in time"
            ) from exc
        except WppError as exc:
            refused = _REFUSED.get(exc.code or "")
            if refused is not None:
                raise PermanentError(refused, f"no pairing code: {exc}") from exc
            raise RetryableError(
                LINK_CODE_UNAVAILABLE, f"WhatsApp Web gave no pairing code ({exc.code}): {exc}"
            ) from exc
        except DriverError as exc:
            raise RetryableError(LINK_CODE_UNAVAILABLE, f"the page failed: {exc}") from exc
        if not isinstance(raw, str) or not raw.strip():
            raise RetryableError(LINK_CODE_UNAVAILABLE, "WhatsApp Web gave an empty pairing code")
        # A person is entering the code now: autoClose counts from here.
        self._cancel_timer("autoclose")
        self._start_timer("autoclose", self.options.auto_close_ms, self._auto_close)
        await self._announce_link_code(raw)
        link = self.current_link
        if link is None or link.code != format_link_code(raw):
            raise RetryableError(LINK_CODE_UNAVAILABLE, "the session stopped pairing")
        return link

    async def _await_loaded(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until the run's first page reported whether it is logged in."""
        if not self.running:
            raise RetryableError("session_closed", "the session is not running")
        waiters = {
            asyncio.ensure_future(self._loaded.wait()),
            asyncio.ensure_future(self._closed.wait()),
        }
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if not self.running:
            closed = self.close_error  # a fresh error: no traceback piling up on it
            code, message = (closed.code, closed.message) if closed else ("session_closed", "")
            raise RetryableError(code, message or "the session closed")
        if not self._loaded.is_set():
            raise RetryableError(LINK_CODE_UNAVAILABLE, "WhatsApp Web did not load in time")

    async def _on_link_code_change(self, payload: Any) -> None:
        """wa-js ``conn.link_code_change``: the page has a (new) code for the phone."""
        if isinstance(payload, str) and payload.strip():
            await self._announce_link_code(payload)

    async def _announce_link_code(self, raw: str) -> None:
        """Tell the listener of a new code (once each)."""
        if self.phase not in (SessionPhase.STARTING, SessionPhase.PAIRING):
            return
        code = format_link_code(raw)
        if self.current_link is not None and code == self.current_link.code:
            return
        self.link_codes += 1
        link = LinkCode(
            code=code,
            phone=self._link_phone,
            expires_at=utcnow() + timedelta(seconds=LINK_CODE_TTL_SECONDS),
            attempts=self.link_codes,
        )
        self.current_link = link
        self._log("new pairing code", attempts=self.link_codes)
        await self._listener.on_link_code(self.me, link)
