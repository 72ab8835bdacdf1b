"""A removed ``wppconnect`` integration takes its WhatsApp Web session with it.

``IntegrationStore.remove`` publishes ``{"tenantId", "provider", "integration"}`` on
:data:`~streams.tenancy.integrations.REMOVED_CHANNEL`. Every WhatsApp worker follows it
(:meth:`RemovalFollower.follow`); for a removed ``wppconnect`` integration each one
(:meth:`RemovalFollower.handle`):

1. does nothing if the tenant has that integration again (removed and set anew); the
   integration's name (``wppconnect``, ``wppconnect@sales``) names the session
   (:func:`~streams.whatsapp.naming.session_id`): only that session goes;
2. logs the session out on WhatsApp (``WPP.conn.logout``: the phone's linked device is
   gone) -- if no worker runs it but a login is stored, this worker first opens it
   (:data:`LOGIN_WAIT` at most) -- and deletes its token: the local profile, the sealed
   archive of the ``file`` store or the Redis archive of the ``redis`` store (which leaves
   its tombstone), with a ``deleteToken`` status;
3. once nobody holds the session's lease any more, deletes its Redis keys (the session
   hash and the encrypted QR).

A removal published while no WhatsApp worker follows the channel is not seen (Redis
pub/sub keeps nothing): send the ``logout`` command then (docs/whatsapp-sessions.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import orjson
from redis.asyncio import Redis

from providers._exceptions import HeraldError
from streams.tenancy.feed import follow_channel
from streams.tenancy.integrations import REMOVED_CHANNEL, IntegrationStore
from streams.whatsapp.manager import SessionManager
from streams.whatsapp.naming import session_id
from streams.whatsapp.options import SessionPhase, options_for
from streams.whatsapp.store import SessionStore

__all__ = ["PROVIDER", "REASON", "RemovalFollower"]

log = logging.getLogger(__name__)

PROVIDER = "wppconnect"
#: The close reason of the sessions logged out because their integration was removed.
REASON = "integration_removed"
#: Seconds to wait for a stored login to come up so that it can be logged out.
LOGIN_WAIT = 60.0
_POLL_SECONDS = 0.1
_LOGGED_IN = frozenset({SessionPhase.SYNCING, SessionPhase.READY})


class RemovalFollower:
    def __init__(
        self,
        redis: Redis,
        integrations: IntegrationStore,
        sessions: SessionManager,
        store: SessionStore,
    ) -> None:
        self._redis = redis
        self._integrations = integrations
        self._sessions = sessions
        self._store = store
        #: Set while subscribed (tests wait for it before removing an integration).
        self.following = asyncio.Event()
        #: The tenants whose removal was handled last, newest last (:meth:`wait_handled`).
        self.handled: deque[str] = deque(maxlen=1000)
        self._changed = asyncio.Event()

    async def wait_handled(self, tenant_id: str) -> None:
        """Return once a removal of ``tenant_id`` was handled (bound it with a timeout)."""
        while tenant_id not in self.handled:
            changed = self._changed
            await changed.wait()

    async def follow(self) -> None:
        """Handle every removal published, one at a time, until cancelled."""
        await follow_channel(
            self._redis,
            REMOVED_CHANNEL,
            self._on_message,  # a removal published while away is not seen (above)
            following=self.following,
        )

    async def _on_message(self, data: str) -> None:
        try:
            removed = orjson.loads(data)
            tenant, provider = str(removed["tenantId"]), str(removed["provider"])
            integration = str(removed.get("integration") or provider)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("unreadable integration removal message ignored")
            return
        if provider != PROVIDER:
            return
        try:
            await self.handle(tenant, integration)
        except Exception:  # one tenant's cleanup must not stop the feed
            log.exception(
                "removed integration: session not cleaned up", extra={"tenant_id": tenant}
            )
        self.handled.append(tenant)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def handle(self, tenant_id: str, integration: str = PROVIDER) -> bool:
        """Log out and delete the session of the removed ``integration`` (its name:
        ``wppconnect``, ``wppconnect@sales``); ``False`` if the tenant has it again."""
        if await self._integrations.get(tenant_id, integration) is not None:
            return False
        sid = session_id(tenant_id, integration)
        log.info(
            "wppconnect integration removed: logging the session out",
            extra={"tenant_id": tenant_id, "provider": PROVIDER, "session": sid},
        )
        await self._open_to_log_out(sid)
        await self._sessions.close(sid, REASON, logout=True)
        leases = self._sessions.leases
        if leases is None or await leases.holder(sid) is None:
            await self._store.forget(sid)
        return True

    async def _open_to_log_out(self, sid: str) -> None:
        """A stored login no worker runs: open it, so that the logout reaches WhatsApp.

        Without this the phone would keep listing the linked device. Skipped when another
        worker runs the session (it logs out itself) or nothing is stored; given up after
        :data:`LOGIN_WAIT` (the archive is deleted all the same).
        """
        sessions = self._sessions
        running = {s.sid for s in sessions.active()}
        if sid in running or not await sessions.tokens.has_login(sid):
            return
        if sessions.leases is not None and await sessions.leases.holder(sid) is not None:
            return
        try:
            async with asyncio.timeout(LOGIN_WAIT):
                session = await sessions.ensure(sid, options_for(sessions.settings, None))
                while session.running and session.phase not in _LOGGED_IN:
                    if session.phase is SessionPhase.PAIRING:
                        return  # the stored login was not valid: nothing to log out
                    await asyncio.sleep(_POLL_SECONDS)
        except (TimeoutError, HeraldError) as exc:
            log.warning(
                "removed integration: the stored login could not be opened to log out",
                extra={"session": sid, "error": repr(exc)},
            )
