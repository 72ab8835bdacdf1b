"""The state every part of a WhatsApp session shares, and what they all use.

:class:`SessionCore` holds a run's state (phase, status, connection state, the driver
of the current page, the event queue, timers) and the primitives the other parts use:
the serialized page call, timers that fire through the event queue, status reports,
and the shutdown that ends a run. The parts are mixins over it: pairing and connection
states (``pairing.py``), the watchdog and reopening (``healing.py``), and the state
machine itself (``session.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from providers._exceptions import ProviderError, RetryableError
from schemas.whatsapp import ConnectionState, SessionStatus
from streams.whatsapp.driver import DriverError, DriverFactory, DriverSpec, SessionDriver
from streams.whatsapp.lease import Lease
from streams.whatsapp.naming import tenant_of
from streams.whatsapp.options import (
    COMMIT_SECONDS,
    LinkCode,
    SessionHooks,
    SessionListener,
    SessionOptions,
    SessionPhase,
)
from streams.whatsapp.pacing import Pacer
from streams.whatsapp.tokens import TokenStore, session_name

if TYPE_CHECKING:
    from streams.whatsapp.session import WhatsAppSession

__all__ = ["SessionCore"]

log = logging.getLogger("streams.whatsapp.session")

#: Chats whose resolved id a session remembers (see ``remember_chat``).
_CHAT_IDS_KEPT = 10_000


class SessionCore:
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
        #: The session id (``naming.py``): the tenant id, or ``{tenantId}@{sessionName}``
        #: for a tenant's further sessions; every key and folder of the session uses it.
        self.sid = tenant_id
        self.tenant_id = tenant_of(tenant_id)
        self.name = session_name(tenant_id)
        #: The session a request without ``sender`` uses (its URLs need no ``session``).
        self.is_default = True
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
        #: The run was logged in when it ended, with its login on disk (worth archiving).
        self.logged_in_at_close = False
        #: Herald's copy of the login is in the profile (``login.py``), or the run started
        #: on a profile that was already logged in.
        self.login_kept = False
        #: When the page logged in during this run (a scan), loop time.
        self.authenticated_at: float | None = None
        #: How the last browser of the run closed: on request with everything written
        #: (``True``), or it had died (``False``); ``None`` while it runs.
        self.closed_cleanly: bool | None = None
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
        #: Set while the session's state ended every wait (CONFLICT past its deadline,
        #: a blocked account ...): waiting and arriving messages fail with it.
        self.blocked: RetryableError | None = None
        self._blocked_event = asyncio.Event()
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._actions: dict[str, Callable[[], Awaitable[None]]] = {}
        self._last_code: str | None = None
        #: Set once the run's page reported whether it is logged in (``_on_ready``).
        self._loaded = asyncio.Event()
        self.link_codes = 0  # pairing codes (link by phone number) shown by this run
        self._link_phone: str | None = None
        #: The latest pairing code of this run (``linkcode.py``).
        self.current_link: LinkCode | None = None
        #: The page went PAIRING (a phone scanned, or entered a code) and has not linked yet.
        self._scan_started = False
        self._authenticated = False
        self._reconnects = 0
        self._logging_out = False
        self._reloaded_for_update = False
        #: Phone-number chat -> the chat id wa-js sent to (``...@lid`` for chats WhatsApp
        #: addresses by LID), from earlier sends: message ids are built on it.
        self.chat_ids: dict[str, str] = {}  # one reload per run for an outdated build
        self._suspect = 0
        self.pacer = Pacer(0, 0, clock=self._clock)

    # --- what everyone reads --------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.phase not in (SessionPhase.NEW, SessionPhase.CLOSED)

    @property
    def me(self) -> WhatsAppSession:
        """This session, as the listener and hooks know it."""
        return cast("WhatsAppSession", self)

    @property
    def driver(self) -> SessionDriver | None:
        """The current browser page (``None`` between runs and while reopening)."""
        return self._driver

    @property
    def login_on_disk(self) -> bool:
        """The login can be restored from the profile as it is on disk now."""
        if self.login_kept:
            return True
        at = self.authenticated_at
        return at is not None and self._clock() - at >= COMMIT_SECONDS

    def remember_chat(self, chat_id: str, resolved: str) -> None:
        """``chat_id`` is addressed as ``resolved`` (bounded: the oldest entry goes first)."""
        if self.chat_ids.get(chat_id) == resolved:
            return
        self.chat_ids.pop(chat_id, None)
        if len(self.chat_ids) >= _CHAT_IDS_KEPT:
            self.chat_ids.pop(next(iter(self.chat_ids)))
        self.chat_ids[chat_id] = resolved

    def touch(self) -> None:
        self.last_used = self._clock()

    def _log(self, message: str, level: int = logging.INFO, **extra: Any) -> None:
        log.log(
            level,
            message,
            extra={
                "tenant_id": self.tenant_id,
                "session": self.name,
                "session_name": self.options.session_label,
                "provider": "wppconnect",
            }
            | extra,
        )

    def _spec(self) -> DriverSpec:
        return DriverSpec(
            tenant_id=self.tenant_id,
            session=self.name,
            profile_dir=self._tokens.profile_dir(self.sid),
            url=self.url,
            proxy=self.options.proxy,
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

    def _enqueue(self, name: str, payload: Any) -> None:
        """A session-level event (timers, the watchdog): handled whatever the page."""
        self._queue.put_nowait((None, name, payload))

    def _block(self, error: RetryableError) -> None:
        """End every wait for the session with ``error`` until :meth:`_unblock`."""
        self.blocked = error
        self._blocked_event.set()

    def _unblock(self) -> None:
        if self.blocked is not None:
            self.blocked = None
            self._blocked_event = asyncio.Event()

    async def _keep_login(self) -> None:
        """Write the login to the profile now (``login.py``), then tell the hooks."""
        driver = self._driver
        if driver is None:
            return
        try:
            async with self._lock:
                self.login_kept = await driver.keep_login() or self.login_kept
        except DriverError as exc:
            self._log("could not keep the login", logging.WARNING, error=repr(exc))
        if self._hooks is not None:
            await self._hooks.session_logged_in(self.me)

    async def _status(self, status: SessionStatus, detail: str | None = None) -> None:
        self.status = status
        self._log("session status", status=status.value)
        await self._listener.on_status(self.me, status, detail)

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

    def _cancel_timers(self) -> None:
        for name in list(self._timers):
            self._cancel_timer(name)

    # --- shutdown -------------------------------------------------------------------------

    async def _shutdown(
        self, error: ProviderError, *, reason: str, delete_token: bool = False
    ) -> None:
        if self.phase == SessionPhase.CLOSED:
            return
        self._settled.clear()
        logged_in = self._authenticated and not delete_token
        on_disk = self.login_on_disk  # before the browser goes: a death stops the clock
        self.phase = SessionPhase.CLOSED
        self.closed_at = self._clock()
        self.close_reason = reason
        self.close_error = error
        self._ready.clear()
        try:
            self._cancel_timers()
            watchdog, self._watchdog_task = self._watchdog_task, None
            if watchdog is not None and watchdog is not asyncio.current_task():
                watchdog.cancel()
            driver, self._driver = self._driver, None
            self._generation += 1
            clean = False
            if driver is not None:
                with contextlib.suppress(Exception):
                    clean = await driver.close()
            self.closed_cleanly = clean
            # A clean close wrote everything; after a death only what was on disk counts.
            self.logged_in_at_close = logged_in and (on_disk or clean)
            if logged_in and not self.logged_in_at_close:
                self._log(
                    "the browser died before the login was on disk: not archived",
                    logging.WARNING,
                )
            self._queue.put_nowait(None)
            await self._listener.on_qr_cleared(self.me)
            await self._status(SessionStatus.BROWSER_CLOSE, reason)
            if delete_token:
                self.token_deleted = True
                await self._tokens.delete(self.sid)
                await self._status(SessionStatus.DELETE_TOKEN, reason)
            if self._hooks is not None:
                await self._hooks.session_closed(self.me)
            self._log("session closed", reason=reason, clean=clean)
        finally:
            self._closed.set()
            self._settled.set()
