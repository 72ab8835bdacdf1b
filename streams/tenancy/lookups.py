"""Read-side of the lookup system (the seed's ``LookupsService``), cached in memory.

The data is written by ``herald seed`` (:func:`seeds.load_seeds`), which publishes on
:data:`~streams.tenancy.keys.LOOKUPS_CHANNEL` when it changed anything.
:meth:`LookupsService.load` reads the three hashes once; :meth:`LookupsService.follow_changes`
reads them again on every such message (and after every resubscription).
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from schemas.errors import HeraldError
from schemas.lookups import Lookup, LookupType, ProviderSeed
from schemas.notification import Channel
from streams.platform.waiting import ChangeWaiter
from streams.tenancy import keys
from streams.tenancy.feed import follow_channel

__all__ = ["LookupsNotLoaded", "LookupsService"]

log = logging.getLogger(__name__)


class LookupsNotLoaded(HeraldError):
    """Redis holds no seed data (or :meth:`LookupsService.load` was not awaited)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message or "no provider lookups in Redis: run `herald seed` to load the seed data"
        )


class LookupsService(ChangeWaiter):
    def __init__(self, redis: Redis) -> None:
        super().__init__()
        self._redis = redis
        self._types: dict[str, LookupType] | None = None
        self._lookups: dict[str, Lookup] = {}
        self._rows: dict[str, ProviderSeed] = {}
        #: Set while subscribed to the seed's change channel (:meth:`follow_changes`).
        self.following = asyncio.Event()
        #: How many times the seed was read again after a change (:meth:`wait_refreshes`).
        self.refreshes = 0

    async def load(self) -> None:
        """Read the three hashes; raise :class:`LookupsNotLoaded` if there is no seed data."""
        raw_types = await self._redis.hgetall(keys.lookup_types())
        raw_lookups = await self._redis.hgetall(keys.lookups())
        raw_rows = await self._redis.hgetall(keys.provider_rows())
        if not raw_lookups or not raw_rows:
            raise LookupsNotLoaded()
        types = [LookupType.model_validate_json(v) for v in raw_types.values()]
        lookups = [Lookup.model_validate_json(v) for v in raw_lookups.values()]
        rows = [ProviderSeed.model_validate_json(v) for v in raw_rows.values()]
        self._types = {t.type_name: t for t in types}
        self._lookups = {lk.lookup_code: lk for lk in lookups}
        self._rows = {row.provider_type: row for row in rows}
        log.debug(
            "lookups loaded",
            extra={"lookups": len(self._lookups), "provider_rows": len(self._rows)},
        )

    async def refresh(self) -> None:
        await self.load()

    async def follow_changes(self) -> None:
        """Read the seed again whenever ``herald seed`` changed it, until cancelled."""
        await follow_channel(
            self._redis,
            keys.LOOKUPS_CHANNEL,
            self._seed_changed,
            on_subscribed=self._changed_while_away,
            following=self.following,
        )

    async def _seed_changed(self, _message: str) -> None:
        try:
            await self.refresh()
        except LookupsNotLoaded:  # emptied: keep serving the last seed read
            log.warning("the seed data was emptied; the last lookups read stay in use")
        self.refreshes += 1
        self._notify()

    async def wait_refreshes(self, count: int) -> None:
        """Return once the seed was read again ``count`` times (tests; bound it)."""
        await self.wait_for(lambda lookups: lookups.refreshes >= count)

    async def _changed_while_away(self) -> None:
        if self.loaded:
            await self._seed_changed("")

    @property
    def loaded(self) -> bool:
        return self._types is not None

    def _require(self) -> None:
        if self._types is None:
            raise LookupsNotLoaded("LookupsService.load() must be awaited before use")

    def lookup_types(self) -> list[LookupType]:
        self._require()
        assert self._types is not None
        return sorted(self._types.values(), key=lambda t: t.type_name)

    def lookups(self) -> list[Lookup]:
        """Every lookup, by type then order index."""
        self._require()
        return sorted(self._lookups.values(), key=lambda lk: (lk.type, lk.order_index))

    def lookup(self, code: str) -> Lookup | None:
        self._require()
        return self._lookups.get(code)

    def provider_row(self, provider_type: str) -> ProviderSeed | None:
        """The provider row whose ``providerType`` is ``provider_type`` (a lookup code)."""
        self._require()
        return self._rows.get(provider_type)

    def is_provider_for(self, code: str, channel: Channel | str) -> bool:
        found = self.lookup(code)
        return found is not None and found.metadata.get("channel") == str(channel)

    def system_defaults(self, channel: Channel | str) -> list[ProviderSeed]:
        """Active provider rows of ``channel``: the default first, then by priority."""
        self._require()
        rows = [r for r in self._rows.values() if r.is_active and r.channel == str(channel)]
        return sorted(rows, key=lambda r: (not r.is_default, r.priority, r.name))
