"""Persistence of a session's login: when its profile is archived, and when not.

The manager's :class:`~streams.whatsapp.options.SessionHooks` delegate here. A profile is
archived only when its login is on disk (``WhatsAppSession.login_on_disk``: Herald kept
its own copy of the login in the profile, ``login.py``, or the page started logged in
from it, or Chromium had time to commit it), so a copy without the login never replaces
a good archive:

* as soon as a run's login is on disk (right after the scan, before ``qrReadSuccess``
  is reported; or at a logged-in start), a copy of the running profile, so that another
  worker can restore it;
* periodically while it runs (``upkeep.py``);
* when it closes: the closed profile -- complete after a clean close; after a browser
  death, what was on disk, if the login was.

The lease is released after the closing archive. Archive writes are fenced by the lease
(``tokens.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.platform.metrics import metrics
from streams.whatsapp.lease import Lease, LeaseManager
from streams.whatsapp.options import COMMIT_SECONDS
from streams.whatsapp.tokens import TokenStore

if TYPE_CHECKING:
    from streams.whatsapp.session import WhatsAppSession

__all__ = ["Archiver"]

log = logging.getLogger("streams.whatsapp.manager")

Spawn = Callable[[Any, str], "asyncio.Task[Any]"]


class Archiver:
    def __init__(self, tokens: TokenStore, leases: LeaseManager | None, spawn: Spawn) -> None:
        self.tokens = tokens
        self.leases = leases
        self._spawn = spawn
        self._first: dict[str, asyncio.Task[Any]] = {}  # waiting for Chromium's commit

    def after_login(self, session: WhatsAppSession) -> None:
        """Logged in: archive a running copy as soon as the login is on disk."""
        task = self._spawn(self._first_archive(session), f"{session.name}-snapshot")
        tenant = session.sid
        self._first[tenant] = task
        task.add_done_callback(
            lambda done: self._first.pop(tenant) if self._first.get(tenant) is done else None
        )

    async def _first_archive(self, session: WhatsAppSession) -> None:
        run = session.started_at
        if not session.login_on_disk:  # Herald could not keep its copy: Chromium's commit
            await asyncio.sleep(COMMIT_SECONDS)
        if session.running and session.started_at == run:
            await self.snapshot(session)

    async def after_close(self, session: WhatsAppSession) -> None:
        """Archive the closed profile (consistent now), then release the lease."""
        lease, session.lease = session.lease, None
        waiting = self._first.get(session.sid)
        if waiting is not None and waiting is not asyncio.current_task():
            waiting.cancel()  # the closing archive below supersedes it
        if session.started_at is not None and session.closed_at is not None:
            metrics().lifetime.record(max(0.0, session.closed_at - session.started_at))
        if session.lease_lost or (lease is None and self.leases is not None):
            return
        if session.logged_in_at_close and not session.token_deleted:
            try:
                await self._save(session, lease)
            except Exception:
                log.exception("session token not archived", extra={"tenant_id": session.sid})
        if lease is not None and self.leases is not None:
            with contextlib.suppress(Exception):
                await self.leases.release(lease)

    async def snapshot(self, session: WhatsAppSession) -> None:
        """Archive a running session's profile (the periodic and after-login snapshots)."""
        if not session.running or (session.lease is None and self.leases is not None):
            return
        if not session.login_on_disk:
            return
        try:
            await self._save(session, session.lease)
        except Exception:
            log.exception("session snapshot failed", extra={"tenant_id": session.sid})

    async def _save(self, session: WhatsAppSession, lease: Lease | None) -> None:
        async with session.snapshot_lock:
            session.last_snapshot = asyncio.get_running_loop().time()
            info = await self.tokens.save(session.sid, lease)
        if info is None:
            return
        session.token_bytes = info.stored_bytes
        metrics().snapshots.add(1)
        log.info(
            "session token archived",
            extra={
                "tenant_id": session.sid,
                "bytes": info.stored_bytes,
                "raw_bytes": info.raw_bytes,
                "files": info.files,
                "key_id": info.key_id,
            },
        )
