"""What a worker's agents and views share: clients, stores and the processor.

Built when the app is created, started on first use from inside the worker's event
loop (Faust owns the loop), stopped when the worker stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import TYPE_CHECKING

import httpx
from httpx_aiohttp import AiohttpTransport
from redis.asyncio.cluster import RedisCluster

from providers.base import Resources
from providers.database import InboxStore
from providers.transports import DirectPost, ProviderClient, provider_mounts
from schemas import Settings
from seeds import load_seeds
from streams.pipeline.batch import BatchRouter
from streams.pipeline.batchstate import BatchState
from streams.pipeline.processor import INFRA_ERRORS, EventSink, RequestProcessor
from streams.pipeline.ratelimit import TokenBucket, TokenLeases
from streams.pipeline.state import NotificationState
from streams.pipeline.updates import StatusUpdater
from streams.platform.outbox import StatusOutbox
from streams.platform.redis import redis_for
from streams.platform.sink import FaustSink
from streams.platform.tail import KafkaTailReader, RedisCheckpoints, Source
from streams.platform.tracing import instrument_http_client
from streams.tenancy.cache import CachingIntegrationStore
from streams.tenancy.crypto import Cipher, MissingSecretKey
from streams.tenancy.lookups import LookupsNotLoaded, LookupsService
from streams.tenancy.policy import CachingPolicyStore

if TYPE_CHECKING:
    from streams.platform.topics import Topics

__all__ = ["Runtime"]

log = logging.getLogger(__name__)

_GC_THRESHOLD = 50_000


class Runtime:
    def __init__(self, settings: Settings, topics: Topics, sink: EventSink | None = None) -> None:
        self.settings = settings
        self.topics = topics
        self._sink_override = sink
        self.assigned = False  # set once the consumer group gave this worker its partitions
        # HOOK(outbox): de-duplicates status events; reads back on assignment (router role).
        self._tail = KafkaTailReader(settings.kafka_bootstrap_servers)
        self._checkpoints = RedisCheckpoints(
            # Its own small client: the outbox exists (and is assigned) before ``start``.
            redis_for(settings, max_connections=4)
        )
        self.outbox = StatusOutbox(
            status_topic=settings.topic_status,
            source_topics=self.outbox_sources(),
            partitions=settings.topic_partitions,
            reader=self._tail,
            checkpoints=self._checkpoints,
            committed=self._committed_offsets,
        )
        self._started = False
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if self._started:
                return
            settings = self.settings
            self.redis = redis_for(settings, pooled=True)  # one node or a Redis Cluster
            direct = DirectPost(limit=256)  # one aiohttp pool for both paths
            self.http = ProviderClient(
                timeout=httpx.Timeout(settings.provider_timeout_seconds),
                # httpx's API with aiohttp's HTTP/1.1 engine: measured 6-16x the requests per
                # second of httpcore's pool on this machine (docs/performance.md).
                transport=AiohttpTransport(client=direct.session),
                direct=direct,  # plain body POSTs without httpx's model layer
                follow_redirects=False,
                mounts=provider_mounts(settings),  # e.g. HTTP/2 for APNs
            )
            if instrument_http_client(self.http):  # CLIENT spans when tracing is on
                self.http.httpx_only()  # the instrumentation wraps httpx's transports
            try:
                cipher: Cipher | None = Cipher.from_settings(settings)
            except MissingSecretKey:
                log.warning("HERALD_SECRET_KEY is not set: stored credentials cannot be read")
                cipher = None
            self.cipher = cipher  # also seals the QR copy in Redis (streams.whatsapp.store)
            self.sink: EventSink = self._sink_override or FaustSink(
                self.topics, self.outbox, max_record_bytes=settings.kafka_max_record_bytes
            )
            self.state = NotificationState(
                self.redis,
                ttl_seconds=settings.idempotency_ttl_seconds,
                correlation_ttl_seconds=settings.correlation_ttl_seconds,
            )
            self.lookups = LookupsService(self.redis)
            self.policies = CachingPolicyStore(self.redis)
            self.integrations = CachingIntegrationStore(
                self.redis, cipher, ttl=settings.integration_cache_seconds
            )
            # Shared with the providers that declare them (``Provider.requires``).
            self.inbox = InboxStore.from_url(settings.database_url, pool_size=settings.db_pool_size)
            self.resources = Resources(self.inbox)
            self.processor = RequestProcessor(
                settings=settings,
                state=self.state,
                lookups=self.lookups,
                integrations=self.integrations,
                http=self.http,
                sink=self.sink,
                policies=self.policies,
                buckets=TokenBucket(self.redis),
                resources=self.resources,
                outbox=self.outbox,
            )
            self.batch_router = BatchRouter(
                self.processor,
                BatchState(
                    self.redis,
                    ttl_seconds=settings.idempotency_ttl_seconds,
                    correlation_ttl_seconds=settings.correlation_ttl_seconds,
                    cluster=isinstance(self.redis, RedisCluster),
                    leases=TokenLeases(settings.router_token_lease_ms / 1000),
                ),
            )
            self.updater = StatusUpdater(self.state, self.sink)
            await self._load_lookups()
            # The in-process caches of tenant configuration follow their change channels
            # (streams/tenancy/feed.py): integrations, the seed's lookups, policies.
            caches = (self.integrations, self.lookups, self.policies)
            self._cache_feeds = [asyncio.create_task(c.follow_changes()) for c in caches]
            with contextlib.suppress(TimeoutError):  # Redis answered just above: quick
                async with asyncio.timeout(5):
                    await asyncio.gather(*(c.following.wait() for c in caches))
            # The worker's long-lived objects (Faust, pydantic schemas, clients) do not
            # need the cyclic collector: frozen, a full collection no longer walks them,
            # and a larger first threshold makes collections rarer while requests create
            # short-lived objects by the thousand (docs/performance.md: ~15 % of the hot
            # path's samples were collections started at an allocation).
            gc.collect()
            gc.freeze()
            gc.set_threshold(_GC_THRESHOLD, *gc.get_threshold()[1:])
            self._started = True

    async def _load_lookups(self) -> None:
        delay = 0.2
        while True:
            try:
                try:
                    await self.lookups.load()
                except LookupsNotLoaded:
                    log.warning("no seed data in Redis: loading the seed (as `herald seed` does)")
                    await load_seeds(self.redis)
                    await self.lookups.load()
                return
            except INFRA_ERRORS as exc:
                log.warning("redis unavailable at start; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _committed_offsets(self) -> dict[Source, int]:
        """The offsets this worker's consumer committed (next to read), per owned partition.

        Read from Faust's consumer in-process (no I/O): the outbox keeps a finished
        record's floor until its offset is below these.
        """
        app = self.topics.status.app
        consumer = getattr(app, "_consumer", None)  # never create one here
        offsets = getattr(consumer, "_committed_offset", None) or {}
        return {
            Source(tp.topic, tp.partition): int(offset)
            for tp, offset in list(offsets.items())
            if offset is not None
        }

    def outbox_sources(self) -> frozenset[str]:
        """The consumed topics whose records produce status events (this role's)."""
        return frozenset([self.settings.topic_requests, *self.settings.retry_topics.values()])

    @property
    def started(self) -> bool:
        return self._started

    async def stop(self) -> None:
        if not self._started:
            return
        await self.processor.inflight.drain(timeout=30)
        for feed in self._cache_feeds:
            feed.cancel()
        await asyncio.gather(*self._cache_feeds, return_exceptions=True)
        await self.outbox.close()
        await self._tail.close()
        await self._checkpoints.close()
        await self.http.aclose()
        await self.inbox.close()
        await self.redis.aclose()
        self._started = False
