"""One tenant's WhatsApp Web session: a state machine over a :class:`SessionDriver`.

Phases of a run (a run = from ``start()`` to its close, possibly over several browsers)::

    STARTING --isLogged--> SYNCING --main ready (inChat)--> READY
        \\--notLogged--> PAIRING --QR scanned (qrReadSuccess)--> SYNCING
    any --page crashed / browser lost / watchdog--> RECOVERING --backoff--> STARTING
    any --autoClose / logout / UNPAIRED / too many restarts / close()--> CLOSED

WPPConnect's ``statusFind`` statuses and WhatsApp Web's socket states go to the
:class:`SessionListener` as they happen; so do new QR codes, acks and incoming
messages. Events from the page are handled one at a time, in order, by a pump task;
calls into the page are serialized by a lock. A watchdog task checks the page every
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
import random
from collections.abc import Awaitable, Callable
from typing import Any

from providers._exceptions import ProviderError, RetryableError
from providers.wppconnect import render_qr
from schemas.whatsapp import ConnectionState, SessionStatus
from streams.platform.metrics import metrics
from streams.whatsapp.driver import DriverError, DriverFactory, DriverSpec, SessionDriver
from streams.whatsapp.healing import SUSPECT_LIMIT, probe, restart_delay
from streams.whatsapp.lease import Lease
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
from streams.whatsapp.pacing import Pacer
from streams.whatsapp.tokens import TokenStore, session_name

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


def _user(wid: Any) -> str | None:
    """``5511999990000@c.us`` (or ``...:12@c.us``) -> ``5511999990000``."""
    if not isinstance(wid, str) or not wid:
        return None
    return wid.split("@", 1)[0].split(":", 1)[0] or None


class WhatsAppSession:
    def __init__(
        self,
        tenant_id: str,
        *,
        url: str,
        driver_factory: DriverFactory,
        tokens: TokenStore,
        listener: SessionListener,
        hooks: SessionHooks | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.name = session_name(tenant_id)
        self.url = url
        self.options = SessionOptions()
        self.phase = SessionPhase.NEW
        self.status: SessionStatus | None = None
        self.state: ConnectionState | None = None
        self.phone: str | None = None
        self.partition: int | None = None  # dispatch partition that made this worker its owner
        self.started_at: float | None = None
        self.closed_at: float | None = None
        self.close_reason: str | None = None
        self.close_error: ProviderError | None = None
        self.qr_attempts = 0
        #: The ownership lease of the current run (set by the manager before ``start``).
        self.lease: Lease | None = None
        #: The run ended because another worker owns the session now: no archive, no release.
        self.lease_lost = False
        #: The run ended with the token deleted (logout).
        self.token_deleted = False
        #: The run was logged in when it ended (its profile is worth archiving).
        self.logged_in_at_close = False
        self.restarts = 0  # reopenings of this run
        self.failures = 0  # failed reopenings in a row
        self.last_used: float = 0.0
        self.last_snapshot: float | None = None
        self.memory_bytes: int | None = None
        self.token_bytes: int | None = None
        #: Held from the fencing check to the recorded send; a hand-over waits for it.
        self.send_guard = asyncio.Lock()
        #: One archive write at a time (a closing snapshot waits for a running one).
        self.snapshot_lock = asyncio.Lock()
        self._factory = driver_factory
        self._tokens = tokens
        self._listener = listener
        self._hooks = hooks
        self._clock = clock or asyncio.get_running_loop().time
        self._driver: SessionDriver | None = None
        self._generation = 0
        self._lock = asyncio.Lock()  # one call into the page at a time
        self.start_lock = asyncio.Lock()
        self._queue: asyncio.Queue[tuple[int | None, str, Any] | None] = asyncio.Queue()
        self._pump_task: asyncio.Task[None] | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()
        self._settled = asyncio.Event()
        self._settled.set()
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._actions: dict[str, Callable[[], Awaitable[None]]] = {}
        self._last_code: str | None = None
        self._authenticated = False
        self._reconnects = 0
        self._logging_out = False
        self._suspect = 0
        self.pacer = Pacer(0, 0, clock=self._clock)

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.phase not in (SessionPhase.NEW, SessionPhase.CLOSED)

    @property
    def driver(self) -> SessionDriver | None:
        """The current browser page (``None`` between runs and while reopening)."""
        return self._driver

    def touch(self) -> None:
        self.last_used = self._clock()

    def _log(self, message: str, level: int = logging.INFO, **extra: Any) -> None:
        log.log(
            level,
            message,
            extra={"tenant_id": self.tenant_id, "session": self.name, "provider": "wppconnect"}
            | extra,
        )

    def _spec(self) -> DriverSpec:
        return DriverSpec(
            tenant_id=self.tenant_id,
            session=self.name,
            profile_dir=self._tokens.profile_dir(self.tenant_id),
            url=self.url,
        )

    def _new_driver(self) -> SessionDriver:
        self._generation += 1
        generation = self._generation

        def callback(name: str, payload: Any) -> None:
            self._queue.put_nowait((generation, name, payload))

        self._driver = self._factory(self._spec(), callback)
        return self._driver

    async def settled(self) -> None:
        """Wait until the last run's close is complete (token archived, lease released)."""
        await self._settled.wait()

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
        self._last_code = None
        self._authenticated = False
        self._logging_out = False
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
            if logout and await self._tokens.delete(self.tenant_id):
                await self._status(SessionStatus.DELETE_TOKEN, reason)
            return
        self.lease_lost = lease_lost
        if logout:
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

    async def wait_ready(self) -> None:
        """Return once messages can be sent; raise the close error if the run ends first."""
        while True:
            if self.phase == SessionPhase.CLOSED or self.phase == SessionPhase.NEW:
                raise self.close_error or RetryableError("session_closed", "session not running")
            if self._ready.is_set():
                return
            ready, closed = self._ready, self._closed
            waiters = {asyncio.ensure_future(ready.wait()), asyncio.ensure_future(closed.wait())}
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def call(self, function: str, *args: Any) -> Any:
        """``WPP.<function>(...args)`` in the page, serialized with every other call."""
        driver = self._driver
        if driver is None or not self.running:
            raise DriverError("session is not running")
        async with self._lock:
            return await driver.call(function, *args)

    async def snapshot(self) -> dict[str, Any]:
        driver = self._driver
        if driver is None or not self.running:
            return {"ready": False}
        async with self._lock:
            return await driver.snapshot()

    # --- events from the page -----------------------------------------------------------

    def _enqueue(self, name: str, payload: Any) -> None:
        """A session-level event (timers, the watchdog): handled whatever the page."""
        self._queue.put_nowait((None, name, payload))

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
        elif name == "chat.msg_ack_change" and isinstance(payload, dict):
            ids = [i for i in payload.get("ids") or [] if isinstance(i, str)]
            ack = payload.get("ack")
            if isinstance(ack, int) and ids:
                await self._listener.on_ack(self, ack, ids)
        elif name == "chat.new_message" and isinstance(payload, dict):
            if not payload.get("fromMe") and payload.get("id"):
                await self._listener.on_message(self, payload)
        elif name == "page.navigated":
            if self.phase == SessionPhase.READY:
                # A new document: calls wait until its bridge reports in and it is connected.
                self._ready.clear()
                self.phase = SessionPhase.SYNCING
        elif name in ("page.closed", "page.crashed", "browser.disconnected"):
            self._log("browser gone", logging.WARNING, event=name)
            await self._recover(name)

    async def _status(self, status: SessionStatus, detail: str | None = None) -> None:
        self.status = status
        self._log("session status", status=status.value)
        await self._listener.on_status(self, status, detail)

    async def _on_ready(self, snap: dict[str, Any]) -> None:
        """A document's bridge is subscribed: the first load of a run, or a reload."""
        first = self.phase == SessionPhase.STARTING
        if snap.get("authenticated"):
            self._authenticated = True
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
            await self._listener.on_qr_cleared(self)
            return
        if full == self._last_code:
            return
        self._last_code = full
        self.qr_attempts += 1
        qr = render_qr(full, attempts=self.qr_attempts, ttl_ms=self.options.qr_timeout_ms)
        self._log("new QR code", attempts=self.qr_attempts)
        await self._listener.on_qr(self, qr)

    async def _on_authenticated(self) -> None:
        """A QR code was scanned (wa-js ``conn.authenticated``)."""
        self._authenticated = True
        self._cancel_timer("autoclose")
        if self.phase in (SessionPhase.STARTING, SessionPhase.PAIRING):
            await self._status(SessionStatus.QR_READ_SUCCESS)
            await self._listener.on_qr_cleared(self)
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
        fresh = self.status != SessionStatus.IN_CHAT
        if fresh:
            await self._status(SessionStatus.IN_CHAT)
        self._ready.set()
        if fresh and self._hooks is not None:
            await self._hooks.session_ready(self)

    async def _on_state(self, raw: Any, *, force: bool = False) -> None:
        try:
            state = ConnectionState(str(raw))
        except ValueError:
            self._log("unknown connection state", logging.WARNING, state=str(raw)[:40])
            return
        changed = state != self.state
        self.state = state
        if changed:
            await self._listener.on_state(self, state)
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

    # --- timers ---------------------------------------------------------------------------

    def _start_timer(self, name: str, delay_ms: int, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` after ``delay_ms`` through the event queue (so, in order)."""
        if delay_ms <= 0 or name in self._timers:
            return

        async def fire() -> None:
            await asyncio.sleep(delay_ms / 1000)
            self._timers.pop(name, None)
            self._enqueue("timer", name)

        self._actions[name] = action
        self._timers[name] = asyncio.create_task(fire(), name=f"{self.name}-{name}")

    def _cancel_timer(self, name: str) -> None:
        self._actions.pop(name, None)
        task = self._timers.pop(name, None)
        if task is not None:
            task.cancel()

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

    # --- self-healing (healing.py) ----------------------------------------------------------

    async def _watch(self) -> None:
        """The watchdog: every interval, probe the page; verdicts go through the event queue."""
        interval = self.options.watchdog_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            driver = self._driver
            if driver is None or self.phase not in (
                SessionPhase.PAIRING,
                SessionPhase.SYNCING,
                SessionPhase.READY,
            ):
                continue
            generation = self._generation
            result = await probe(driver, timeout=max(5.0, min(interval * 2, 30.0)))
            self._enqueue(
                "watchdog",
                {"generation": generation, "verdict": result.verdict, "suspect": result.suspect},
            )

    async def _on_watchdog(self, report: dict[str, Any]) -> None:
        if report.get("generation") != self._generation or self.phase not in (
            SessionPhase.PAIRING,
            SessionPhase.SYNCING,
            SessionPhase.READY,
        ):
            return
        verdict = report.get("verdict")
        if report.get("suspect"):
            self._suspect += 1
            if self._suspect >= SUSPECT_LIMIT:
                verdict = "not_ready"
        else:
            self._suspect = 0
        if verdict:
            self._log("watchdog: the page is not healthy", logging.WARNING, verdict=verdict)
            await self._recover(str(verdict))
        elif self.phase == SessionPhase.READY and not report.get("suspect"):
            self.failures = 0  # healthy again: the next crash starts the backoff over

    async def _recover(self, reason: str) -> None:
        """The page or browser died: reopen it after a backoff; give up after max_restarts."""
        if self.phase in (SessionPhase.NEW, SessionPhase.CLOSED) or self._logging_out:
            return
        self.failures += 1
        metrics().reconnections.add(1, {"reason": reason})
        if self.failures > self.options.max_restarts:
            self._log("session given up", logging.ERROR, reason=reason, failures=self.failures)
            await self._status(
                SessionStatus.SESSION_FAILED, f"{reason}: {self.failures - 1} restarts failed"
            )
            await self._shutdown(
                RetryableError(
                    SESSION_FAILED,
                    f"the session's browser failed {self.failures} times in a row ({reason})",
                ),
                reason="failed",
            )
            return
        self.phase = SessionPhase.RECOVERING
        self._ready.clear()
        for name in list(self._timers):
            self._cancel_timer(name)
        driver, self._driver = self._driver, None
        self._generation += 1  # whatever the old page still says is ignored
        if driver is not None:
            with contextlib.suppress(Exception):
                await driver.close()
        await self._listener.on_qr_cleared(self)
        await self._status(SessionStatus.BROWSER_CLOSE, f"restarting: {reason}")
        delay = restart_delay(
            self.failures, self.options.restart_base_delay, self.options.reconnect_max_delay
        )
        self._log("reopening the session", logging.WARNING, reason=reason, delay=round(delay, 2))
        self._start_timer("restart", max(1, int(delay * 1000)), self._restart)

    async def _restart(self) -> None:
        if self.phase != SessionPhase.RECOVERING:
            return
        self.restarts += 1
        self.phase = SessionPhase.STARTING
        self.state = None
        self._authenticated = False
        self._last_code = None
        self._suspect = 0
        driver = self._new_driver()
        try:
            await driver.open()
        except DriverError as exc:
            self._log("reopening failed", logging.WARNING, error=repr(exc))
            await self._recover("restart_failed")

    # --- shutdown -------------------------------------------------------------------------

    async def _shutdown(
        self, error: ProviderError, *, reason: str, delete_token: bool = False
    ) -> None:
        if self.phase == SessionPhase.CLOSED:
            return
        self._settled.clear()
        self.logged_in_at_close = self._authenticated and not delete_token
        self.phase = SessionPhase.CLOSED
        self.closed_at = self._clock()
        self.close_reason = reason
        self.close_error = error
        self._ready.clear()
        try:
            for name in list(self._timers):
                self._cancel_timer(name)
            watchdog, self._watchdog_task = self._watchdog_task, None
            if watchdog is not None and watchdog is not asyncio.current_task():
                watchdog.cancel()
            driver, self._driver = self._driver, None
            self._generation += 1
            if driver is not None:
                with contextlib.suppress(Exception):
                    await driver.close()
            self._queue.put_nowait(None)
            await self._listener.on_qr_cleared(self)
            await self._status(SessionStatus.BROWSER_CLOSE, reason)
            if delete_token:
                self.token_deleted = True
                await self._tokens.delete(self.tenant_id)
                await self._status(SessionStatus.DELETE_TOKEN, reason)
            if self._hooks is not None:
                await self._hooks.session_closed(self)
            self._log("session closed", reason=reason)
        finally:
            self._closed.set()
            self._settled.set()
