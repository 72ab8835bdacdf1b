"""The sessions a WhatsApp worker holds: one per session id, started lazily, owned by lease.

A session id (``naming.py``) is the tenant id for a tenant's first session and
``{tenantId}@{sessionName}`` for its further ones; the methods below take it where
they say ``tenant_id``.

The manager starts a tenant's session on its first message (or a ``connect``
command) and sends through it. Before a session's browser opens, the manager takes the
tenant's lease (``lease.py``: one worker per session, waiting for the previous owner to
release it or for it to expire) and restores the token (``tokens.py``); after a close it
archives the token and releases the lease (:meth:`session_closed`). Sends are paced per
session and fenced: right before the page is called, the lease must still be this
worker's. Beyond ``WHATSAPP_WPPCONNECT_MAX_SESSIONS`` a new session is refused
(retryable ``session_limit``, state ``sessionRefused``). The periodic upkeep (lease
renewal, hand-over, idle close, snapshots, memory) is in ``upkeep.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from providers._exceptions import RetryableError
from providers.wppconnect import WppCall
from schemas.settings import Settings
from schemas.whatsapp import SessionStatus
from streams.platform.metrics import metrics
from streams.whatsapp import sending
from streams.whatsapp.driver import DriverFactory
from streams.whatsapp.lease import LeaseManager
from streams.whatsapp.options import options_for
from streams.whatsapp.persistence import Archiver
from streams.whatsapp.sending import message_key, with_message_id
from streams.whatsapp.session import (
    FINAL_CLOSE_CODES,
    NOT_AUTHENTICATED,
    SessionListener,
    SessionOptions,
    SessionPhase,
    WhatsAppSession,
)
from streams.whatsapp.tokens import FileTokenStore, TokenStore

__all__ = [
    "SessionManager",
    "message_key",
    "options_for",
    "with_message_id",
]

log = logging.getLogger(__name__)

#: Codes of closes by which a session moves or rests; its waiting messages are retried.
HANDOVER = "session_moved"
IDLE = "session_idle"
NOT_OWNED = "session_not_owned"


class SessionManager:
    def __init__(
        self,
        settings: Settings,
        *,
        driver_factory: DriverFactory,
        listener: SessionListener,
        tokens: TokenStore | None = None,
        leases: LeaseManager | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.tokens: TokenStore = tokens or FileTokenStore(settings.wppconnect_token_folder)
        self.leases = leases
        self._factory = driver_factory
        self._listener = listener
        self._clock = clock
        self._sessions: dict[str, WhatsAppSession] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._opening: set[str] = set()
        #: Dispatch records of each tenant on this worker not finished yet (queue depth).
        self.queued: Counter[str] = Counter()
        #: The dispatch partitions this worker owns (``None``: not told, e.g. in tests).
        self.owned: set[int] | None = None
        self.max_sessions = settings.wppconnect_max_sessions
        self.archiver = Archiver(self.tokens, leases, self.spawn)

    # --- sessions -----------------------------------------------------------------------

    def get(self, tenant_id: str) -> WhatsAppSession | None:
        return self._sessions.get(tenant_id)

    def sessions(self) -> list[WhatsAppSession]:
        return list(self._sessions.values())

    def active(self) -> list[WhatsAppSession]:
        return [s for s in self._sessions.values() if s.running]

    def _session(self, tenant_id: str) -> WhatsAppSession:
        session = self._sessions.get(tenant_id)
        if session is None:
            session = WhatsAppSession(
                tenant_id,
                url=self.settings.whatsapp_web_url,
                driver_factory=self._factory,
                tokens=self.tokens,
                listener=self._listener,
                hooks=self,
                clock=self._clock,
            )
            self._sessions[tenant_id] = session
        return session

    def _lease_wait(self) -> float:
        """How long a new owner waits for the previous one: its lease, plus its last call."""
        return (
            self.settings.wppconnect_lease_ttl_ms / 1000
            + self.settings.wppconnect_call_timeout_seconds
            + 5.0
        )

    async def ensure(
        self,
        tenant_id: str,
        options: SessionOptions,
        *,
        waiting_since: float | None = None,
        partition: int | None = None,
        is_default: bool | None = None,
    ) -> WhatsAppSession:
        """The tenant's running session, started if needed.

        ``waiting_since`` (loop time at which the caller's message arrived): if the session
        closed for good after that -- QR not scanned (autoClose), logged out, disconnected,
        given up -- the message was one of those waiting for it and fails with it, instead
        of starting a new session (the next message does that).
        """
        session = self._session(tenant_id)
        if partition is not None:
            session.partition = partition
        if is_default is not None:
            session.is_default = is_default
        async with session.start_lock:
            session.touch()
            if session.running:
                return session
            await session.settled()
            error = session.close_error
            if (
                waiting_since is not None
                and error is not None
                and error.code in FINAL_CLOSE_CODES
                and session.closed_at is not None
                and session.closed_at >= waiting_since
            ):
                raise error
            session.options = options  # a refusal already names the session's sessionName
            await self._admit(session)
            try:
                await self._open(session, options)
            finally:
                self._opening.discard(tenant_id)
        return session

    async def _admit(self, session: WhatsAppSession) -> None:
        """Refuse a new session beyond the worker's maximum (retryable)."""
        opening = self._opening - {s.sid for s in self.active()}
        if len(self.active()) + len(opening) < self.max_sessions:
            self._opening.add(session.sid)
            return
        metrics().refused.add(1)
        detail = f"this worker runs {self.max_sessions} sessions (WHATSAPP_WPPCONNECT_MAX_SESSIONS)"
        log.warning(
            "session refused: worker full",
            extra={"tenant_id": session.tenant_id, "max_sessions": self.max_sessions},
        )
        with contextlib.suppress(Exception):
            await self._listener.on_status(session, SessionStatus.SESSION_REFUSED, detail)
        raise RetryableError("session_limit", f"session refused: {detail}", retry_after=5.0)

    async def _open(self, session: WhatsAppSession, options: SessionOptions) -> None:
        tenant = session.sid
        lease = None
        if self.leases is not None:
            lease = await self.leases.acquire(tenant, wait=self._lease_wait())
            if lease.how != "free":
                metrics().handovers.add(1, {"how": lease.how})
        try:
            if await self.tokens.restore(tenant) and self.tokens.kind == "redis":
                metrics().restores.add(1)
        except Exception as exc:
            if lease is not None and self.leases is not None:
                await self.leases.release(lease)
            log.exception("session token could not be restored", extra={"tenant_id": tenant})
            raise RetryableError(
                "token_unreadable", f"the session's stored login could not be restored: {exc}"
            ) from exc
        session.lease = lease
        await session.start(options)  # a failed start closes the run: the hook releases

    # --- hooks (SessionHooks): persistence.py -------------------------------------------

    async def session_logged_in(self, session: WhatsAppSession) -> None:
        self.archiver.after_login(session)

    async def session_closed(self, session: WhatsAppSession) -> None:
        await self.archiver.after_close(session)

    async def snapshot(self, session: WhatsAppSession) -> None:
        """Archive a running session's profile (the periodic and after-login snapshots)."""
        await self.archiver.snapshot(session)

    async def drain_background(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait for the snapshots and closes under way."""
        while self._background:
            _, pending = await asyncio.wait(set(self._background), timeout=timeout)
            if pending:
                return

    def spawn(self, work: Any, name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # --- sending -------------------------------------------------------------------------

    async def prepare(self, session: WhatsAppSession) -> None:
        """Wait until the session can send and its pacing allows the next message."""
        await sending.prepare(session)

    async def send(self, session: WhatsAppSession, call: WppCall, *, key: str | None = None) -> str:
        """Send ``call`` once the session is ready (``sending.py``); WhatsApp's message id.

        ``key``: the message id to give the message (:func:`message_key`). The lease is
        checked right before the page is called: a worker that no longer owns the session
        never sends through it.
        """
        return await sending.send(session, call, key=key, fence=self._fence)

    async def _fence(self, session: WhatsAppSession) -> None:
        if self.leases is None:
            return
        lease = session.lease
        if lease is not None and await self.leases.check(lease):
            return
        log.warning(
            "send refused: the session's lease is lost", extra={"tenant_id": session.tenant_id}
        )
        self.spawn(
            session.close("lease_lost", code=NOT_OWNED, lease_lost=True), f"{session.name}-lost"
        )
        raise RetryableError(NOT_OWNED, "this worker no longer owns the tenant's WhatsApp session")

    # --- closing -------------------------------------------------------------------------

    async def close(
        self, tenant_id: str, reason: str = "disconnect", *, logout: bool = False
    ) -> bool:
        """Close (or log out) the tenant's session; ``False`` if this worker has none."""
        session = self._sessions.get(tenant_id)
        if session is None:
            if not logout:
                return False
            session = self._session(tenant_id)  # not running: the logout deletes the token
        await session.close(reason, logout=logout)
        return True

    async def release(self, session: WhatsAppSession, reason: str, code: str) -> None:
        """Archive, close and release a session another worker may take (hand-over, idle).

        The send in progress, if any, finishes (and is recorded) first.
        """
        if not session.running:
            return
        guard = self.settings.wppconnect_call_timeout_seconds * 2 + 5
        try:
            async with asyncio.timeout(guard):
                await session.send_guard.acquire()
        except TimeoutError:
            log.warning(
                "closing a session with a send in progress", extra={"tenant_id": session.tenant_id}
            )
            await session.close(reason, code=code)
            return
        try:
            await session.close(reason, code=code)
        finally:
            session.send_guard.release()

    async def close_partitions(self, partitions: Iterable[int]) -> list[str]:
        """Hand over the sessions owned through ``partitions`` (revoked from this worker)."""
        revoked = set(partitions)
        moving = [s for s in self.sessions() if s.running and s.partition in revoked]
        await asyncio.gather(
            *(self.release(s, "partition_revoked", HANDOVER) for s in moving),
            return_exceptions=True,
        )
        return [s.sid for s in moving]

    async def close_all(self, reason: str = "shutdown") -> None:
        running = [s for s in self.sessions() if s.running]
        await asyncio.gather(*(s.close(reason) for s in running), return_exceptions=True)
        if self._background:
            await asyncio.wait(set(self._background), timeout=10)

    @staticmethod
    def not_authenticated(exc: BaseException) -> bool:
        return isinstance(exc, RetryableError) and exc.code == NOT_AUTHENTICATED

    # --- what is visible -----------------------------------------------------------------

    def gauges(self) -> dict[str, list[tuple[float, dict[str, str]]]]:
        """The metrics gauges (streams.platform.metrics): sessions, queue depth, memory, token size."""
        active = self.active()
        return {
            "sessions_active": [(float(len(active)), {})],
            "queue_depth": [
                (float(n), {"tenant": tenant}) for tenant, n in self.queued.items() if n > 0
            ]
            + [(0.0, {"tenant": s.sid}) for s in active if self.queued.get(s.tenant_id, 0) <= 0],
            "memory": [
                (float(s.memory_bytes), {"tenant": s.sid})
                for s in active
                if s.memory_bytes is not None
            ],
            "token_size": [
                (float(s.token_bytes), {"tenant": s.sid})
                for s in active
                if s.token_bytes is not None
            ],
        }

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "tenantId": s.tenant_id,
                "session": s.name,
                "sessionName": s.options.session_label,
                "phase": s.phase.value,
                "status": s.status.value if s.status else None,
                "state": s.state.value if s.state else None,
                "queueDepth": self.queued.get(s.tenant_id, 0),
                "memoryBytes": s.memory_bytes,
                "tokenBytes": s.token_bytes,
                "restarts": s.restarts,
            }
            for s in self.sessions()
            if s.phase != SessionPhase.NEW
        ]
