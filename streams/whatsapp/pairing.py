"""Pairing and the connection: QR codes, login, ``inChat``, socket states, logout.

A mixin of :class:`~streams.whatsapp.session.WhatsAppSession`: the handlers of the
page's login events (``bridge.ready``, ``conn.auth_code_change``, ``conn.authenticated``,
``conn.main_ready``, logout events) and of WhatsApp Web's socket states. Every state a
message can wait in has a deadline and an outcome:

=====================  =====================================================================
pairing (QR shown)     ``autoClose``: ``autocloseCalled``, closed, waiting messages fail
                       (``session_not_authenticated``); ``UNPAIRED_IDLE`` (codes ran out)
                       calls ``WPP.conn.refreshQR`` until then; ``autoClose`` 0: the
                       messages fail after ``qrTimeout``, the QR codes go on
syncing (logged in)    ``WHATSAPP_WPPCONNECT_SYNC_TIMEOUT``: ``phoneNotConnected``, closed
``TIMEOUT``            reload with backoff; after ``max_reconnects`` reloads:
                       ``sessionFailed``, closed, ``session_failed``
``CONFLICT``           takeover if configured; after ``conflict_timeout_ms`` in CONFLICT the
                       waiting messages fail (``session_conflict``) and CONFLICT is
                       reported again with that detail; the session stays open
blocked by WhatsApp    ``TOS_BLOCK``, ``SMB_TOS_BLOCK``, ``PROXYBLOCK``: they fail at once
                       (``session_blocked``)
outdated               ``DEPRECATED_VERSION`` or wa-js ``conn.needs_update``: pinned
                       (``WHATSAPP_WEB_VERSION``), ``sessionFailed`` naming the pin and
                       closed (``session_outdated``); unpinned, one reload for WhatsApp's
                       current build first
page or browser dead   the watchdog (``healing.py``): ``max_restarts`` reopenings
=====================  =====================================================================

All the codes are retryable. A blocked session lets new messages fail at once too, until
its state recovers (``CONNECTED``, or a scan).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from providers._exceptions import RetryableError
from providers.wppconnect import render_qr
from schemas.whatsapp import ConnectionState, SessionStatus
from streams.whatsapp.deadlines import DeadlinesMixin
from streams.whatsapp.driver import DriverError
from streams.whatsapp.options import (
    NOT_AUTHENTICATED,
    SESSION_BLOCKED,
    SESSION_OUTDATED,
    SESSION_WRONG_NUMBER,
    SessionPhase,
)

__all__ = ["BLOCKING_STATES", "PairingMixin"]

_UNPAIRED = (ConnectionState.UNPAIRED, ConnectionState.UNPAIRED_IDLE)

#: States in which WhatsApp refuses the session: messages waiting for it fail at once.
BLOCKING_STATES = frozenset(
    {
        ConnectionState.PROXYBLOCK,
        ConnectionState.TOS_BLOCK,
        ConnectionState.SMB_TOS_BLOCK,
    }
)


def _user(wid: Any) -> str | None:
    """``5511999990000@c.us`` (or ``...:12@c.us``) -> ``5511999990000``."""
    if not isinstance(wid, str) or not wid:
        return None
    return wid.split("@", 1)[0].split(":", 1)[0] or None


class PairingMixin(DeadlinesMixin):
    async def _on_ready(self, snap: dict[str, Any]) -> None:
        """A document's bridge is subscribed: the first load of a run, or a reload."""
        first = self.phase == SessionPhase.STARTING
        self._loaded.set()
        if snap.get("authenticated"):
            self._authenticated = True
            if first:
                self.login_kept = True  # the page read it from the profile: it is on disk
            if first or not self.login_kept:
                # A reload right after a scan (WhatsApp Web does that) may have cut the
                # first try short: keep the login from the new document.
                await self._keep_login()
            if first:
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
            if self.options.auto_close_ms <= 0:
                self._start_timer("pairing", self.options.qr_timeout_ms, self._pairing_timed_out)
            try:
                code = await self.call("conn.getAuthCode")
            except DriverError as exc:
                self._log("could not read the auth code", logging.WARNING, error=repr(exc))
                code = None
            if self.phase == SessionPhase.PAIRING and code is not None:
                await self._on_auth_code(code)
        if snap.get("state"):
            await self._on_state(snap["state"], force=True)
        if snap.get("needsUpdate") and self.phase != SessionPhase.CLOSED:
            await self._on_outdated("needs_update")  # wa-js fired it before we listened

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
        self._cancel_timer("pairing")
        if self.blocked is not None and self.blocked.code == NOT_AUTHENTICATED:
            self._unblock()
        self._scan_started = False
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
        if await self._wrong_number():
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
            self._cancel_timer("conflict")
            if self.blocked is not None and self.blocked.code != NOT_AUTHENTICATED:
                self._unblock()  # the state that blocked the session is over
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
            await self._schedule_reconnect()
        elif state == ConnectionState.CONFLICT:
            self._log("conflict: WhatsApp Web is open elsewhere", logging.WARNING)
            if self.options.takeover_on_conflict:
                self._start_timer("takeover", 1, self._take_over)
            self._start_timer(
                "conflict", self.options.conflict_timeout_ms, self._conflict_timed_out
            )
        elif state == ConnectionState.DEPRECATED_VERSION:
            await self._on_outdated(state.value)
        elif state in BLOCKING_STATES:
            self._log("WhatsApp blocks this session", logging.ERROR, state=state.value)
            self._block(
                RetryableError(SESSION_BLOCKED, f"WhatsApp Web reports {state.value} for it")
            )
        elif state == ConnectionState.PAIRING and not self._authenticated:
            self._scan_started = True  # a phone scanned (or entered a code): linking
        elif state in _UNPAIRED and self._scan_started and not self._authenticated:
            await self._scan_failed(state)
            if state == ConnectionState.UNPAIRED_IDLE:
                self._start_timer("refresh", 1, self._refresh_qr)
        elif state == ConnectionState.UNPAIRED_IDLE and not self._authenticated:
            self._start_timer("refresh", 1, self._refresh_qr)
        elif state == ConnectionState.UNPAIRED and self._authenticated:
            await self._on_logout("unpaired")

    async def _scan_failed(self, state: ConnectionState) -> None:
        """PAIRING went back to unpaired without a login: WPPConnect's ``qrReadFail``.

        The session stays in pairing (the page shows a new code; ``autoClose`` still runs).
        """
        self._scan_started = False
        if self.phase not in (SessionPhase.STARTING, SessionPhase.PAIRING):
            return
        self._log("the phone could not link this session", logging.WARNING, state=state.value)
        await self._status(SessionStatus.QR_READ_FAIL, f"linking failed: back to {state.value}")

    async def _on_outdated(self, why: str) -> None:
        """WhatsApp finds this WhatsApp Web build too old (DEPRECATED_VERSION, needs_update).

        A pinned build stays too old whatever the page does: the session stops and says
        which pin to upgrade. Unpinned, WhatsApp serves its current build on a reload: one
        reload first, then the same stop.
        """
        if self.phase == SessionPhase.CLOSED:
            return
        pinned = self.options.web_version
        if not pinned and not self._reloaded_for_update and self._driver is not None:
            self._reloaded_for_update = True
            self._log("WhatsApp Web asks for an update: reloading", logging.WARNING, reason=why)
            try:
                async with self._lock:
                    await self._driver.reload()
                return
            except DriverError as exc:
                self._log("reload failed", logging.WARNING, error=repr(exc))
        if pinned:
            detail = (
                f"WhatsApp Web {pinned} (WHATSAPP_WEB_VERSION) is outdated ({why}): pin a "
                "newer build and run `herald whatsapp install`"
            )
        else:
            detail = (
                f"WhatsApp finds this WhatsApp Web client outdated ({why}): upgrade wa-js "
                "(WHATSAPP_WPPCONNECT_WAJS_VERSION) or pin a current WHATSAPP_WEB_VERSION"
            )
        self._log(
            "WhatsApp Web is outdated: session stopped",
            logging.ERROR,
            reason=why,
            web_version=pinned,
        )
        await self._status(SessionStatus.SESSION_FAILED, detail)
        await self._shutdown(RetryableError(SESSION_OUTDATED, detail), reason="outdated")

    async def _wrong_number(self) -> bool:
        """Logged in by another number than the integration's ``phoneNumberId``: reported
        (``wrongNumber``) and logged out, so nothing is sent from the wrong number."""
        expected = self.options.expected_phone
        if expected is None or self.phone is None or self.phone == expected:
            return False
        detail = f"logged in as {self.phone}; phoneNumberId expects {expected}"
        self._log("session logged in by another number: logging out", logging.WARNING)
        await self._status(SessionStatus.WRONG_NUMBER, detail)
        self._logging_out = True
        with contextlib.suppress(DriverError):
            await self.call("conn.logout")
        await self._shutdown(
            RetryableError(SESSION_WRONG_NUMBER, f"the session was {detail}"),
            reason="wrong_number",
            delete_token=True,
        )
        return True

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

    async def _refresh_qr(self) -> None:
        """UNPAIRED_IDLE: the codes ran out with nobody scanning; ask for new ones.

        Until ``autoClose`` closes the session; with ``autoClose`` 0 (never), for ever,
        but the messages waiting fail once the pairing outlived ``qrTimeout``.
        """
        if self.state != ConnectionState.UNPAIRED_IDLE or self.phase != SessionPhase.PAIRING:
            return
        self._log("QR codes expired: refreshing", attempts=self.qr_attempts)
        try:
            code = await self.call("conn.refreshQR")
        except DriverError as exc:
            self._log("could not refresh the QR code", logging.WARNING, error=repr(exc))
            return
        if code is not None:
            await self._on_auth_code(code)
