"""Persistence of a session's login: when its profile is archived, and when not.

The manager's :class:`~streams.whatsapp.options.SessionHooks` delegate here: a run
that logged in is archived soon after (a copy of the running profile, so that another
worker can restore it), periodically (``upkeep.py``) and when it closes (the closed
profile, consistent), and its lease is released after the closing archive. Archive
writes are fenced by the lease (``tokens.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.platform.metrics import metrics
from streams.whatsapp.lease import Lease, LeaseManager
from streams.whatsapp.tokens import TokenStore

if TYPE_CHECKING:
    from streams.whatsapp.session import WhatsAppSession

__all__ = ["SETTLE_SECONDS", "Archiver"]

log = logging.getLogger("streams.whatsapp.manager")

#: Chromium commits localStorage about 5 s after a change: archive a running profile later.
SETTLE_SECONDS = 10.0

Spawn = Callable[[Any, str], "asyncio.Task[Any]"]


class Archiver:
    def __init__(self, tokens: TokenStore, leases: LeaseManager | None, spawn: Spawn) -> None:
        self.tokens = tokens
        self.leases = leases
        self._spawn = spawn
        self._settling: set[asyncio.Task[Any]] = set()  # after-login snapshots, waiting
        #: Seconds after login before the first archive of a running profile.
        self.settle_seconds = SETTLE_SECONDS

    def after_login(self, session: WhatsAppSession) -> None:
        """Logged in: archive the token soon (a running copy), so another worker can restore."""
        task = self._spawn(self._settled_snapshot(session), f"{session.name}-snapshot")
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    def cancel_pending(self) -> None:
        for task in list(self._settling):  # the closing archives supersede them
            task.cancel()

    async def _settled_snapshot(self, session: WhatsAppSession) -> None:
        # Chromium writes localStorage to disk a few seconds after a change (and a new
        # profile's Preferences later still): copy the profile once that happened.
        run = session.started_at
        await asyncio.sleep(self.settle_seconds)
        if session.running and session.started_at == run:
            await self.snapshot(session)

    async def after_close(self, session: WhatsAppSession) -> None:
        """Archive the closed profile (consistent now), then release the lease."""
        lease, session.lease = session.lease, None
        if session.started_at is not None and session.closed_at is not None:
            metrics().lifetime.record(max(0.0, session.closed_at - session.started_at))
        if session.lease_lost or (lease is None and self.leases is not None):
            return
        if session.logged_in_at_close and not session.token_deleted:
            try:
                await self._save(session, lease)
            except Exception:
                log.exception("session token not archived", extra={"tenant_id": session.tenant_id})
        if lease is not None and self.leases is not None:
            with contextlib.suppress(Exception):
                await self.leases.release(lease)

    async def snapshot(self, session: WhatsAppSession) -> None:
        """Archive a running session's profile (the periodic and after-login snapshots)."""
        if not session.running or (session.lease is None and self.leases is not None):
            return
        try:
            await self._save(session, session.lease)
        except Exception:
            log.exception("session snapshot failed", extra={"tenant_id": session.tenant_id})

    async def _save(self, session: WhatsAppSession, lease: Lease | None) -> None:
        async with session.snapshot_lock:
            session.last_snapshot = asyncio.get_running_loop().time()
            info = await self.tokens.save(session.tenant_id, lease)
        if info is None:
            return
        session.token_bytes = info.stored_bytes
        metrics().snapshots.add(1)
        log.info(
            "session token archived",
            extra={
                "tenant_id": session.tenant_id,
                "bytes": info.stored_bytes,
                "raw_bytes": info.raw_bytes,
                "files": info.files,
                "key_id": info.key_id,
            },
        )
