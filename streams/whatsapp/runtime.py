"""The WhatsApp worker's runtime: the shared one, plus browser sessions and their events."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from typing import TYPE_CHECKING

from schemas import Settings
from streams.pipeline.processor import EventSink
from streams.platform.metrics import configure, metrics
from streams.platform.runtime import Runtime
from streams.tenancy.crypto import MissingSecretKey
from streams.tenancy.integrations import IntegrationStore
from streams.whatsapp.browser import BrowserLauncher
from streams.whatsapp.commands import CommandProcessor
from streams.whatsapp.dispatch import DispatchProcessor
from streams.whatsapp.driver import DriverFactory
from streams.whatsapp.events import FaustWhatsAppSink, SessionEvents, WhatsAppSink
from streams.whatsapp.feed import PublishingSink
from streams.whatsapp.lease import LeaseManager
from streams.whatsapp.manager import SessionManager
from streams.whatsapp.removal import RemovalFollower
from streams.whatsapp.sealed import SealedFileTokenStore
from streams.whatsapp.store import SessionStore
from streams.whatsapp.tokens import RedisTokenStore, TokenStore
from streams.whatsapp.upkeep import Upkeep

if TYPE_CHECKING:
    from streams.platform.topics import Topics

__all__ = ["WhatsAppRuntime"]

log = logging.getLogger(__name__)


class WhatsAppRuntime(Runtime):
    """``herald worker whatsapp``: sessions are pinned here while it owns their partitions."""

    def __init__(
        self,
        settings: Settings,
        topics: Topics,
        sink: EventSink | None = None,
        *,
        whatsapp_sink: WhatsAppSink | None = None,
        driver_factory: DriverFactory | None = None,
    ) -> None:
        super().__init__(settings, topics, sink)
        self.whatsapp_sink_override = whatsapp_sink
        #: Replaceable before start (tests): the Playwright driver by default.
        self.driver_factory = driver_factory
        self._wa_lock = asyncio.Lock()
        self._wa_started = False
        self.owned: set[int] | None = None

    def outbox_sources(self) -> frozenset[str]:
        return frozenset({self.settings.topic_whatsapp_dispatch})  # HOOK(outbox)

    async def start(self) -> None:
        await super().start()
        async with self._wa_lock:
            if self._wa_started:
                return
            settings = self.settings
            configure(otlp_endpoint=settings.otel_exporter_otlp_endpoint)
            self.launcher = BrowserLauncher(settings)
            # Beside each QR and state record, a message for the live streams of any
            # worker's web server (streams.whatsapp.feed).
            self.whatsapp_sink: WhatsAppSink = PublishingSink(
                self.whatsapp_sink_override or FaustWhatsAppSink(self.topics),
                self.redis,
                self.cipher,
            )
            owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
            self.session_store = SessionStore(self.redis, owner=owner, cipher=self.cipher)
            self.session_events = SessionEvents(
                self.session_store,
                self.whatsapp_sink,
                self.updater,
                qr_publish=settings.wppconnect_qr_publish,
            )
            self.sessions = SessionManager(
                settings,
                driver_factory=self.driver_factory or self.launcher.factory,
                listener=self.session_events,
                tokens=self._token_store(),
                leases=LeaseManager(self.redis, owner, ttl_ms=settings.wppconnect_lease_ttl_ms),
            )
            self.sessions.owned = self.owned
            self.upkeep = Upkeep(self.sessions, self.session_store.record_usage)
            self.upkeep.start()
            metrics().add_source(self.sessions.gauges)
            self.dispatcher = DispatchProcessor(
                settings=settings,
                state=self.state,
                lookups=self.lookups,
                integrations=self.integrations,
                sessions=self.sessions,
                sink=self.sink,
                outbox=self.outbox,  # HOOK(outbox)
            )
            self.dispatcher.owned = self.owned
            self.commands = CommandProcessor(
                sessions=self.sessions,
                events=self.session_events,
                sink=self.sink,
                lookups=self.lookups,
                integrations=self.integrations,
            )
            # Uncached: the removal must not be judged by a cache not yet invalidated.
            uncached = IntegrationStore(self.redis, self.cipher)
            self.removals = RemovalFollower(self.redis, uncached, self.sessions, self.session_store)
            self._removal_feed = asyncio.create_task(
                self.removals.follow(), name="whatsapp-integration-removals"
            )
            self._wa_started = True

    async def assign(self, partitions: set[int]) -> None:
        """This worker's dispatch partitions after a rebalance: hand over the sessions it lost.

        Each is archived, closed and its lease released (the send in progress, if any,
        finishes first); their waiting records are left unacknowledged, for the new owner.
        """
        self.owned = set(partitions)
        if not self._wa_started:
            return
        self.dispatcher.owned = self.owned
        self.sessions.owned = self.owned
        lost = {s.partition for s in self.sessions.sessions() if s.partition is not None}
        lost -= self.owned
        if lost:
            # In the background: the rebalance goes on while the browsers close; the new
            # owners wait for each session's lease (released once its profile is archived).
            self.sessions.spawn(self._hand_over(lost), "whatsapp-handover")

    async def _hand_over(self, partitions: set[int]) -> None:
        moved = await self.sessions.close_partitions(partitions)
        if moved:
            log.info("sessions handed over on rebalance", extra={"tenants": moved[:50]})

    def _token_store(self) -> TokenStore:
        """Either store keeps logins encrypted at rest, so either needs the secret key."""
        folder = self.settings.wppconnect_token_folder
        store = self.settings.wppconnect_token_store
        if self.cipher is None:
            raise MissingSecretKey(
                f"WHATSAPP_WPPCONNECT_TOKEN_STORE={store} encrypts the session logins at "
                "rest: set HERALD_SECRET_KEY (`herald keygen`)"
            )
        if store != "redis":
            return SealedFileTokenStore(folder, self.cipher)
        return RedisTokenStore(folder, self.redis, self.cipher)

    async def stop(self) -> None:
        if self._wa_started:
            self.dispatcher.stopping = True
            self._removal_feed.cancel()
            await asyncio.gather(self._removal_feed, return_exceptions=True)
            await self.upkeep.stop()
            metrics().remove_source(self.sessions.gauges)
            await self.sessions.close_all()
            await self.dispatcher.inflight.drain(timeout=10)
            await self.commands.inflight.drain(timeout=5)
            await self.launcher.stop()
            self._wa_started = False
        await super().stop()
