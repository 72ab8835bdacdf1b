"""The session's deadlines: what happens when a state outlives its time.

A mixin under :class:`~streams.whatsapp.pairing.PairingMixin` (see its table): the QR code
not scanned (``autoClose``, ``qrTimeout``), the phone not connecting after the login
(``WHATSAPP_WPPCONNECT_SYNC_TIMEOUT``), the ``TIMEOUT`` reloads with backoff, the
``CONFLICT`` deadline and the takeover.
"""

from __future__ import annotations

import logging
import random

from providers._exceptions import RetryableError
from schemas.whatsapp import ConnectionState, SessionStatus
from streams.whatsapp.core import SessionCore
from streams.whatsapp.driver import DriverError
from streams.whatsapp.options import (
    NOT_AUTHENTICATED,
    SESSION_CONFLICT,
    SESSION_FAILED,
    SessionPhase,
)

__all__ = ["DeadlinesMixin"]


class DeadlinesMixin(SessionCore):
    async def _auto_close(self) -> None:
        if self.phase not in (SessionPhase.STARTING, SessionPhase.PAIRING):
            return
        self._log("QR code not scanned in time: closing", logging.WARNING)
        await self._status(SessionStatus.AUTOCLOSE_CALLED)
        await self._shutdown(
            RetryableError(
                NOT_AUTHENTICATED,
                f"the QR code was not scanned within {self.options.auto_close_ms} ms",
            ),
            reason="autoclose",
        )

    async def _sync_timed_out(self) -> None:
        if self.phase != SessionPhase.SYNCING:
            return
        await self._status(SessionStatus.PHONE_NOT_CONNECTED)
        await self._shutdown(
            RetryableError("phone_not_connected", "the phone did not connect in time"),
            reason="phone_not_connected",
        )

    async def _schedule_reconnect(self) -> None:
        """TIMEOUT: reload the page after a backoff; give up after ``max_reconnects`` reloads.

        WhatsApp Web retries its own link too (each try may report TIMEOUT again): a reload
        already scheduled stays as it is, and only Herald's reloads count.
        """
        if "reconnect" in self._timers:
            return
        if self._reconnects >= self.options.max_reconnects:
            detail = f"TIMEOUT: {self._reconnects} reloads did not reconnect"
            self._log("session given up", logging.ERROR, reason=detail)
            await self._status(SessionStatus.SESSION_FAILED, detail)
            await self._shutdown(
                RetryableError(SESSION_FAILED, f"WhatsApp Web did not reconnect ({detail})"),
                reason="failed",
            )
            return
        delay = min(self.options.reconnect_max_delay, 2.0**self._reconnects)
        delay *= random.uniform(0.8, 1.0)
        self._log("connection TIMEOUT: reconnecting", attempt=self._reconnects + 1, delay=delay)
        self._start_timer("reconnect", max(1, int(delay * 1000)), self._reconnect)

    async def _reconnect(self) -> None:
        # Still TIMEOUT, or OPENING between two of the page's own tries: not reconnected.
        offline = (ConnectionState.TIMEOUT, ConnectionState.OPENING)
        if self.state not in offline or not self.running or self._driver is None:
            return
        self._reconnects += 1
        try:
            async with self._lock:
                await self._driver.reload()
        except DriverError as exc:
            self._log("reload failed", logging.WARNING, error=repr(exc))
            await self._schedule_reconnect()

    async def _conflict_timed_out(self) -> None:
        """CONFLICT outlived its deadline: the waiting messages fail; the state is reported."""
        if self.state != ConnectionState.CONFLICT or not self.running:
            return
        ms = self.options.conflict_timeout_ms
        detail = f"WhatsApp Web is open elsewhere for {ms} ms: waiting messages fail"
        self._log("conflict outlived its deadline", logging.WARNING, conflict_ms=ms)
        self._block(RetryableError(SESSION_CONFLICT, detail))
        await self._listener.on_state(self.me, ConnectionState.CONFLICT, detail)

    async def _pairing_timed_out(self) -> None:
        """``autoClose`` 0: nobody scanned within ``qrTimeout``; waiting messages fail."""
        if self.phase != SessionPhase.PAIRING or self._authenticated:
            return
        ms = self.options.qr_timeout_ms
        self._block(
            RetryableError(NOT_AUTHENTICATED, f"the QR code was not scanned within {ms} ms")
        )

    async def _take_over(self) -> None:
        if self._driver is None or not self.running:
            return
        try:
            async with self._lock:
                took = await self._driver.takeover()
            self._log("conflict: took the session back", taken=took)
        except DriverError as exc:
            self._log("takeover failed", logging.WARNING, error=repr(exc))
