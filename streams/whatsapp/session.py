"""One tenant's WhatsApp Web session: a state machine over a :class:`SessionDriver`.

Phases of a run (a run = from ``start()`` to its close, possibly over several browsers)::

    STARTING --isLogged--> SYNCING --main ready (inChat)--> READY
        \\--notLogged--> PAIRING --QR scanned or code entered (qrReadSuccess)--> SYNCING
                             \\--a failed link (qrReadFail)--> PAIRING
    any --page crashed / browser lost / watchdog--> RECOVERING --backoff--> STARTING
    any --autoClose / logout / UNPAIRED / too many restarts / close()--> CLOSED

WPPConnect's ``statusFind`` statuses and WhatsApp Web's socket states go to the
:class:`SessionListener` as they happen; so do new QR codes, acks and incoming
messages. Events from the page are handled one at a time, in order, by a pump task;
calls into the page are serialized by a lock. The parts live in their own modules:
the shared state and shutdown (``core.py``), pairing and connection states
(``pairing.py``), linking by phone number (``linkcode.py``), the watchdog and reopening (``healing.py``). A watchdog task checks the page every
``watchdog_interval_ms`` (``healing.py``); a dead page is reopened from the token store
with bounded exponential backoff while waiting messages keep waiting, and after
``max_restarts`` failures in a row the session is given up (``sessionFailed``). A
closed session can be started again (a new run): after a logout its token is gone, so
the new run shows a new QR code. The :class:`SessionHooks` (the manager) archive the
token once the run is ready and when it closes, and give the session's lease back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from providers._exceptions import RetryableError
from schemas.whatsapp import SessionStatus
from streams.whatsapp.driver import DriverError
from streams.whatsapp.healing import HealingMixin
from streams.whatsapp.linkcode import LinkCodeMixin
from streams.whatsapp.options import (
    DISCONNECTED,
    FINAL_CLOSE_CODES,
    NOT_AUTHENTICATED,
    SESSION_FAILED,
    SessionHooks,
    SessionListener,
    SessionOptions,
    SessionPhase,
)

__all__ = [
    "DISCONNECTED",
    "FINAL_CLOSE_CODES",
    "NOT_AUTHENTICATED",
    "SESSION_FAILED",
    "SessionHooks",
    "SessionListener",
    "SessionOptions",
    "SessionPhase",
    "WhatsAppSession",
]

log = logging.getLogger(__name__)

#: Seconds a logout waits for a logged-in session's connection (:meth:`_until_connected`).
LOGOUT_CONNECT_WAIT = 15.0


class WhatsAppSession(LinkCodeMixin, HealingMixin):
    """One tenant's session: its runs, and the event pump that drives the parts."""

    async def start(self, options: SessionOptions) -> None:
        """Open a new run: launch the browser on the tenant's profile and load WhatsApp Web."""
        if self.running:
            return
        self.options = options
        self.phase = SessionPhase.STARTING
        self.closed_at = self.close_reason = self.close_error = None
        self.status = self.state = self.phone = None
        self.started_at = self._clock()
        self.touch()
        self.qr_attempts = 0
        self.restarts = self.failures = 0
        self.lease_lost = self.token_deleted = self.logged_in_at_close = False
        self.login_kept = False
        self.authenticated_at = None
        self.closed_cleanly = None
        self._last_code = self._link_phone = self.current_link = None
        self.link_codes = 0
        self._scan_started = False
        self._loaded = asyncio.Event()
        self._authenticated = False
        self._unblock()
        self._logging_out = False
        self._reloaded_for_update = False
        self._reconnects = 0
        self._suspect = 0
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()
        self._queue = asyncio.Queue()
        self.pacer.configure(options.send_rate_per_minute, options.send_jitter_ms / 1000)
        if not options.disable_welcome:
            self._log("WPPConnect (Herald): starting WhatsApp Web session")
        driver = self._new_driver()
        self._pump_task = asyncio.create_task(self._pump(), name=f"{self.name}-events")
        try:
            await driver.open()
        except DriverError as exc:
            self._log("session could not start", logging.WARNING, error=repr(exc))
            error = RetryableError("session_unavailable", f"WhatsApp Web did not start: {exc}")
            await self._shutdown(error, reason="start_failed")
            raise error from exc
        if options.watchdog_interval_ms > 0:
            self._watchdog_task = asyncio.create_task(self._watch(), name=f"{self.name}-watchdog")
        self._log("session started")

    async def close(
        self,
        reason: str = "closed",
        *,
        logout: bool = False,
        code: str = DISCONNECTED,
        lease_lost: bool = False,
    ) -> None:
        """Close the browser (``disconnect``), or log out and delete the token (``logout``).

        ``code``: the retryable error of messages still waiting for the session.
        ``lease_lost``: another worker owns the session now; nothing is archived or released.
        """
        if not self.running:
            if logout and await self._tokens.delete(self.sid):
                await self._status(SessionStatus.DELETE_TOKEN, reason)
            return
        self.lease_lost = lease_lost
        if logout:
            await self._until_connected()
            self._logging_out = True
            driver = self._driver
            if driver is not None:
                with contextlib.suppress(DriverError):
                    async with self._lock:
                        await driver.call("conn.logout")
            error = RetryableError(NOT_AUTHENTICATED, "the session was logged out")
        else:
            error = RetryableError(code, f"the session was closed ({reason})")
        await self._shutdown(error, reason=reason, delete_token=logout)

    async def _until_connected(self) -> None:
        """Logged in but not connected yet (``SYNCING``, e.g. a stored login just
        opened): wait, at most :data:`LOGOUT_CONNECT_WAIT` seconds, for the connection. A logout travels
        over WhatsApp's socket; sent before it is up, it would log out only this page and
        leave the linked device on the phone."""
        if self.phase is not SessionPhase.SYNCING:
            return
        waiters = {asyncio.ensure_future(e.wait()) for e in (self._ready, self._closed)}
        try:
            await asyncio.wait(
                waiters, timeout=LOGOUT_CONNECT_WAIT, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def wait_ready(self) -> None:
        """Return once messages can be sent; raise if the run ends first or is blocked.

        Blocked: the session's state has outlived its deadline (``pairing.py``); the
        error says which (e.g. ``session_conflict``), and it is retryable.
        """
        while True:
            if self.phase == SessionPhase.CLOSED or self.phase == SessionPhase.NEW:
                raise self.close_error or RetryableError("session_closed", "session not running")
            if self._ready.is_set():
                return
            blocked = self.blocked
            if blocked is not None:  # a fresh error each time: no traceback piling up
                raise RetryableError(blocked.code, blocked.message, retry_after=blocked.retry_after)
            events = (self._ready, self._closed, self._blocked_event)
            waiters = {asyncio.ensure_future(e.wait()) for e in events}
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    # --- events from the page -----------------------------------------------------------

    async def _pump(self) -> None:
        queue = self._queue
        while True:
            item = await queue.get()
            if item is None:
                return
            generation, name, payload = item
            if generation is not None and generation != self._generation:
                continue  # from a browser that was already replaced
            try:
                await self._handle(name, payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "session event handler failed",
                    extra={"tenant_id": self.tenant_id, "session": self.name, "event": name},
                )
            if self.phase == SessionPhase.CLOSED:
                return

    async def _handle(self, name: str, payload: Any) -> None:
        if self.phase == SessionPhase.CLOSED:
            return
        if name == "timer":
            action = self._actions.pop(str(payload), None)
            if action is not None:
                await action()
            return
        if name == "watchdog":
            await self._on_watchdog(payload if isinstance(payload, dict) else {})
            return
        if self.phase == SessionPhase.RECOVERING:
            return  # the old page's last words
        if name == "bridge.ready":
            await self._on_ready(payload if isinstance(payload, dict) else {})
        elif name == "conn.auth_code_change":
            await self._on_auth_code(payload)
        elif name == "conn.link_code_change":
            await self._on_link_code_change(payload)
        elif name == "conn.authenticated":
            await self._on_authenticated()
        elif name == "conn.main_ready":
            await self._maybe_ready()
        elif name in ("conn.logout", "conn.logout_reason"):
            await self._on_logout(payload if isinstance(payload, str) else None)
        elif name == "conn.require_auth":
            if self._authenticated and not self._logging_out:
                await self._on_logout("require_auth")
        elif name == "socket.state":
            await self._on_state(payload)
        elif name == "conn.needs_update":
            await self._on_outdated("needs_update")
        elif name == "chat.msg_ack_change" and isinstance(payload, dict):
            ids = [i for i in payload.get("ids") or [] if isinstance(i, str)]
            ack = payload.get("ack")
            if isinstance(ack, int) and ids:
                await self._listener.on_ack(self.me, ack, ids)
        elif name == "chat.new_message" and isinstance(payload, dict):
            if not payload.get("fromMe") and payload.get("id"):
                await self._listener.on_message(self.me, payload)
        elif name == "page.navigated":
            if self.phase == SessionPhase.READY:
                # A new document: calls wait until its bridge reports in and it is connected.
                self._ready.clear()
                self.phase = SessionPhase.SYNCING
        elif name in ("page.closed", "page.crashed", "browser.disconnected"):
            self._log("browser gone", logging.WARNING, event=name)
            await self._recover(name)
