"""Pairing and the connection: QR codes, login, ``inChat``, socket states, logout.

A mixin of :class:`~streams.whatsapp.session.WhatsAppSession`: the handlers of the
page's login events (``bridge.ready``, ``conn.auth_code_change``, ``conn.authenticated``,
``conn.main_ready``, logout events) and of WhatsApp Web's socket states, and the timers
that bound them (``autoClose`` while pairing, the sync timeout once logged in, the
``TIMEOUT`` reconnection backoff, the ``CONFLICT`` takeover).
"""

from __future__ import annotations

import logging
import random
from typing import Any

from providers._exceptions import RetryableError
from providers.wppconnect import render_qr
from schemas.whatsapp import ConnectionState, SessionStatus
from streams.whatsapp.core import SessionCore
from streams.whatsapp.driver import DriverError
from streams.whatsapp.options import NOT_AUTHENTICATED, SessionPhase

__all__ = ["PairingMixin"]


def _user(wid: Any) -> str | None:
    """``5511999990000@c.us`` (or ``...:12@c.us``) -> ``5511999990000``."""
    if not isinstance(wid, str) or not wid:
        return None
    return wid.split("@", 1)[0].split(":", 1)[0] or None


class PairingMixin(SessionCore):
    async def _on_ready(self, snap: dict[str, Any]) -> None:
        """A document's bridge is subscribed: the first load of a run, or a reload."""
        first = self.phase == SessionPhase.STARTING
        if snap.get("authenticated"):
            self._authenticated = True
            if first:
                self.login_kept = True  # the page read it from the profile: it is on disk
                await self._keep_login()
                await self._status(SessionStatus.IS_LOGGED)
            if self.phase != SessionPhase.SYNCING:
                self._ready.clear()
                self.phase = SessionPhase.SYNCING
            if first:
                self._start_timer("sync", self.options.sync_timeout_ms, self._sync_timed_out)
        elif self._authenticated:
            await self._on_logout("login_lost")  # a reload came back without the login
            return
        else:
            if first:
                await self._status(SessionStatus.NOT_LOGGED)
            self._ready.clear()
            self.phase = SessionPhase.PAIRING
            self._start_timer("autoclose", self.options.auto_close_ms, self._auto_close)
            try:
                code = await self.call("conn.getAuthCode")
            except DriverError as exc:
                self._log("could not read the auth code", logging.WARNING, error=repr(exc))
                code = None
            if self.phase == SessionPhase.PAIRING and code is not None:
                await self._on_auth_code(code)
        if snap.get("state"):
            await self._on_state(snap["state"], force=True)

    async def _on_auth_code(self, code: Any) -> None:
        if self.phase not in (SessionPhase.STARTING, SessionPhase.PAIRING):
            return
        full = code.get("fullCode") if isinstance(code, dict) else None
        if not isinstance(full, str) or not full:
            await self._listener.on_qr_cleared(self.me)
            return
        if full == self._last_code:
            return
        self._last_code = full
        self.qr_attempts += 1
        qr = render_qr(full, attempts=self.qr_attempts, ttl_ms=self.options.qr_timeout_ms)
        self._log("new QR code", attempts=self.qr_attempts)
        await self._listener.on_qr(self.me, qr)

    async def _on_authenticated(self) -> None:
        """A QR code was scanned (wa-js ``conn.authenticated``)."""
        self._authenticated = True
        self._cancel_timer("autoclose")
        if self.phase in (SessionPhase.STARTING, SessionPhase.PAIRING):
            self.authenticated_at = self._clock()
            await self._keep_login()  # before qrReadSuccess is reported: on disk first
            await self._status(SessionStatus.QR_READ_SUCCESS)
            await self._listener.on_qr_cleared(self.me)
            self.phase = SessionPhase.SYNCING
            self._start_timer("sync", self.options.sync_timeout_ms, self._sync_timed_out)
        await self._maybe_ready()

    async def _maybe_ready(self) -> None:
        """Logged in and connected: messages can go (``inChat`` once per run)."""
        if not self._authenticated or self.state != ConnectionState.CONNECTED:
            return
        if self.phase not in (SessionPhase.STARTING, SessionPhase.PAIRING, SessionPhase.SYNCING):
            return
        self._cancel_timer("autoclose")
        self._cancel_timer("sync")
        if self.phone is None:
            try:
                self.phone = _user(await self.call("conn.getMyUserId"))
            except DriverError as exc:
                self._log("could not read the session's phone", logging.WARNING, error=repr(exc))
        if not self.running:  # closed while we asked
            return
        self.phase = SessionPhase.READY
        self.touch()  # idle from now on, not from when it started
        if self.status != SessionStatus.IN_CHAT:
            await self._status(SessionStatus.IN_CHAT)
        self._ready.set()

    async def _on_state(self, raw: Any, *, force: bool = False) -> None:
        try:
            state = ConnectionState(str(raw))
        except ValueError:
            self._log("unknown connection state", logging.WARNING, state=str(raw)[:40])
            return
        changed = state != self.state
        self.state = state
        if changed:
            await self._listener.on_state(self.me, state)
        elif not force:
            return
        if state == ConnectionState.CONNECTED:
            self._reconnects = 0
            self._cancel_timer("reconnect")
            if not self._authenticated and self.phase == SessionPhase.PAIRING:
                # Paired, but conn.authenticated has not been seen (yet): ask the page.
                try:
                    snap = await self.snapshot()
                except DriverError:
                    snap = {}
                if snap.get("authenticated"):
                    await self._on_authenticated()
                    return
            await self._maybe_ready()
            return
        if self.phase == SessionPhase.READY:
            self._ready.clear()  # wait for the connection to come back
            self.phase = SessionPhase.SYNCING
        if state == ConnectionState.TIMEOUT:
            self._schedule_reconnect()
        elif state == ConnectionState.CONFLICT:
            self._log("conflict: WhatsApp Web is open elsewhere", logging.WARNING)
            if self.options.takeover_on_conflict:
                self._start_timer("takeover", 1, self._take_over)
        elif state == ConnectionState.UNPAIRED and self._authenticated:
            await self._on_logout("unpaired")

    async def _on_logout(self, reason: str | None) -> None:
        if self.phase == SessionPhase.CLOSED or self._logging_out:
            return
        self._logging_out = True
        await self._status(SessionStatus.DISCONNECTED_MOBILE, reason)
        await self._shutdown(
            RetryableError(NOT_AUTHENTICATED, "WhatsApp logged this session out; scan a new QR"),
            reason=reason or "logout",
            delete_token=True,
        )

    # --- deadlines ------------------------------------------------------------------------

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

    def _schedule_reconnect(self) -> None:
        self._cancel_timer("reconnect")
        self._reconnects += 1
        delay = min(self.options.reconnect_max_delay, 2.0 ** (self._reconnects - 1))
        delay *= random.uniform(0.8, 1.0)
        self._log("connection TIMEOUT: reconnecting", attempt=self._reconnects, delay=delay)
        self._start_timer("reconnect", int(delay * 1000), self._reconnect)

    async def _reconnect(self) -> None:
        if self.state != ConnectionState.TIMEOUT or not self.running or self._driver is None:
            return
        try:
            async with self._lock:
                await self._driver.reload()
        except DriverError as exc:
            self._log("reload failed", logging.WARNING, error=repr(exc))
            self._schedule_reconnect()

    async def _take_over(self) -> None:
        if self._driver is None or not self.running:
            return
        try:
            async with self._lock:
                took = await self._driver.takeover()
            self._log("conflict: took the session back", taken=took)
        except DriverError as exc:
            self._log("takeover failed", logging.WARNING, error=repr(exc))
