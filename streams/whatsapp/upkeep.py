"""The session manager's periodic work, one loop per worker.

Every tick (a third of the lease TTL at most, 1 s at least... or less for short TTLs):

* renew the lease of every running session; a session whose lease is gone (the worker
  stalled past the TTL and another took over) is closed at once, without archiving; so is
  one whose renewals failed ``WHATSAPP_WPPCONNECT_LEASE_MAX_RENEW_FAILURES`` times in a
  row (Redis unreachable): fail closed, before the lease can lapse and another worker
  connect the same number;
* hand over sessions whose dispatch partition this worker no longer owns (a session that
  was still starting when the partitions moved);
* close sessions idle longer than ``WHATSAPP_WPPCONNECT_IDLE_TIMEOUT`` (archived, browser
  closed, lease released; the next message reopens them);
* archive running sessions every ``WHATSAPP_WPPCONNECT_SNAPSHOT_INTERVAL``;
* every few ticks, measure each session's browser memory.

Closing and archiving run as background tasks, so lease renewals are never late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from streams.platform.infra import INFRA_ERRORS
from streams.whatsapp.lease import Lease
from streams.whatsapp.manager import HANDOVER, IDLE, NOT_OWNED, SessionManager
from streams.whatsapp.memory import browser_pid, tree_memory
from streams.whatsapp.session import SessionPhase, WhatsAppSession

__all__ = ["Upkeep", "UsageReport"]

log = logging.getLogger(__name__)

_MEMORY_EVERY = 15.0  # seconds between memory measurements


class UsageReport(Protocol):
    async def __call__(
        self, tenant_id: str, *, memory_bytes: int | None = None, token_bytes: int | None = None
    ) -> None: ...


class Upkeep:
    def __init__(self, manager: SessionManager, report: UsageReport | None = None) -> None:
        self.manager = manager
        self.report = report
        settings = manager.settings
        self.tick = max(0.1, min(5.0, settings.wppconnect_lease_ttl_ms / 3000))
        self.idle_after = settings.wppconnect_idle_timeout_ms / 1000
        self.snapshot_every = settings.wppconnect_snapshot_interval_ms / 1000
        self._task: asyncio.Task[None] | None = None
        self._busy: set[str] = set()  # tenants with a close or snapshot under way
        self._last_memory = 0.0
        self._pids: dict[str, tuple[int, int]] = {}  # tenant -> (driver id, browser pid)
        self.max_renew_failures = settings.wppconnect_lease_max_renew_failures
        self._renew_failures: dict[str, int] = {}  # tenant -> failed renewals in a row

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="whatsapp-upkeep")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                await self.once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("session upkeep failed")

    async def once(self) -> None:
        manager = self.manager
        now = asyncio.get_running_loop().time()
        for session in manager.active():
            if session.sid in self._busy:
                continue
            if not await self._renew(session):
                continue
            owned = manager.owned
            if (
                owned is not None
                and session.partition is not None
                and session.partition not in owned
            ):
                self._later(session, manager.release(session, "partition_revoked", HANDOVER))
            elif self._idle(session, now):
                log.info("closing an idle session", extra={"tenant_id": session.sid})
                self._later(session, manager.release(session, "idle", IDLE))
            elif self._snapshot_due(session, now):
                self._later(session, manager.snapshot(session))
        if now - self._last_memory >= _MEMORY_EVERY:
            self._last_memory = now
            await self.measure()

    async def _renew(self, session: WhatsAppSession) -> bool:
        leases, lease = self.manager.leases, session.lease
        if leases is None or lease is None:
            return True
        tenant = session.sid
        try:
            # A Redis that hangs (a partition, not a refusal) counts as a failure too.
            async with asyncio.timeout(max(self.tick, 1.0)):
                renewed = await leases.renew(lease)
                holder = None if renewed else await leases.holder(tenant)
        except INFRA_ERRORS as exc:  # TimeoutError is an OSError
            failures = self._renew_failures[tenant] = self._renew_failures.get(tenant, 0) + 1
            if failures < self.max_renew_failures:
                log.warning(
                    "session lease renewal failed",
                    extra={"tenant_id": tenant, "failures": failures, "error": repr(exc)},
                )
                return False
            log.error(
                "session lease unconfirmed: closing (fail closed)",
                extra={"tenant_id": tenant, "failures": failures, "error": repr(exc)},
            )
            self._renew_failures.pop(tenant, None)
            self._later(
                session, session.close("lease_unconfirmed", code=NOT_OWNED, lease_lost=True)
            )
            return False
        self._renew_failures.pop(tenant, None)
        if renewed:
            return True
        if holder is None:
            # Expired (this worker stalled past the TTL) but nobody took it: take it again.
            again = await leases.try_acquire(session.sid)
            if isinstance(again, Lease) and session.running:
                session.lease = again
                log.warning("session lease expired: taken again", extra={"tenant_id": session.sid})
                return True
        log.warning("session lease lost: closing", extra={"tenant_id": session.sid})
        self._later(session, session.close("lease_lost", code=NOT_OWNED, lease_lost=True))
        return False

    def _idle(self, session: WhatsAppSession, now: float) -> bool:
        if self.idle_after <= 0 or self.manager.queued.get(session.tenant_id, 0) > 0:
            return False
        if session.phase not in (SessionPhase.READY, SessionPhase.SYNCING):
            return False  # pairing sessions close by autoClose
        return now - session.last_used >= self.idle_after

    def _snapshot_due(self, session: WhatsAppSession, now: float) -> bool:
        if self.snapshot_every <= 0 or session.phase != SessionPhase.READY:
            return False
        if self.manager.tokens.kind != "redis":
            return False
        last = session.last_snapshot
        return last is None or now - last >= self.snapshot_every

    def _later(self, session: WhatsAppSession, work: object) -> None:
        tenant = session.sid
        self._busy.add(tenant)
        task = self.manager.spawn(work, f"{session.name}-upkeep")
        task.add_done_callback(lambda _: self._busy.discard(tenant))

    async def measure(self) -> None:
        """Each running session's browser memory (PSS of its process tree)."""
        sessions = [s for s in self.manager.active() if s.driver is not None]
        found = await asyncio.to_thread(self._measure, sessions)
        for session in sessions:
            session.memory_bytes = found.get(session.sid)
            if self.report is not None:
                try:
                    await self.report(
                        session.sid,
                        memory_bytes=session.memory_bytes,
                        token_bytes=session.token_bytes,
                    )
                except Exception as exc:  # reporting must not stop the upkeep
                    log.warning("session usage not recorded", extra={"error": repr(exc)})

    def _measure(self, sessions: list[WhatsAppSession]) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for session in sessions:
            driver = session.driver
            if driver is None:
                continue
            cached = self._pids.get(session.sid)
            pid = cached[1] if cached and cached[0] == id(driver) else None
            if pid is None:
                pid = browser_pid(self.manager.tokens.path(session.sid))
                if pid is None:
                    continue
                self._pids[session.sid] = (id(driver), pid)
            size = tree_memory(pid)
            if size is not None:
                sizes[session.sid] = size
        return sizes
