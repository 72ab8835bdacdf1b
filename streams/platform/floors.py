"""The outbox's ledger: the records still counting and the floors that bound a read-back.

A *floor* (per consumed source and status partition, in Redis) is an offset of the status
partition below which no event of a not-yet-finished record of that source can be. It is
written before the source's first event on that status partition and advanced every
``flush_interval`` to the lowest start offset of the jobs still counting; eventIds below
every floor are forgotten. The whole design is in :mod:`streams.platform.outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from streams.platform.infra import INFRA_ERRORS
from streams.platform.tail import Checkpoints, Source, TailReader, status_partition

__all__ = ["Committed", "OutboxJob", "OutboxLedger", "Replay"]

log = logging.getLogger(__name__)

#: The consumer's committed offsets (next offset to read) of the sources it owns.
Committed = Callable[[], Mapping[Source, int]]


@dataclass(eq=False, slots=True)
class OutboxJob:
    """One consumed record's work: its events are attributed to it (floors, replays)."""

    source: Source | None
    offset: int
    partition: int | None  # the status partition its events go to (None: it emits none)
    start: int  # the status partition's end (a lower bound of it) when the job began


@dataclass(slots=True)
class Replay:
    """A newly assigned source whose records below ``end`` may repeat a dead owner's."""

    end: int
    floors: dict[int, int]
    started: int = -1  # highest source offset started since the assignment


@dataclass(eq=False)
class OutboxLedger:
    """What the outbox knows: the eventIds on the status partitions, the records still
    counting (running, or ended and not committed), and their floors in Redis.

    :class:`~streams.platform.outbox.StatusOutbox` adds assignment, read-back and emission.
    """

    status_topic: str
    source_topics: frozenset[str]
    partitions: int
    reader: TailReader
    checkpoints: Checkpoints
    flush_interval: float = 1.0
    #: Without it a record stops counting when its job ends (enough only when a replay of
    #: a finished record emits nothing); with it, when its offset is committed.
    committed: Committed | None = None
    skipped: int = 0  # events not produced because they were already on the topic

    _seen: defaultdict[int, dict[bytes, int]] = field(
        default_factory=lambda: defaultdict(dict), init=False
    )
    _ends: dict[int, int] = field(default_factory=dict, init=False)
    _owned: set[Source] = field(default_factory=set, init=False)
    _floors: dict[Source, dict[int, int]] = field(default_factory=dict, init=False)
    _replays: dict[Source, Replay] = field(default_factory=dict, init=False)
    _jobs: set[OutboxJob] = field(default_factory=set, init=False)
    _retained: dict[Source, list[OutboxJob]] = field(default_factory=dict, init=False)
    _pending: dict[tuple[int, bytes], asyncio.Future[bool]] = field(
        default_factory=dict, init=False
    )
    _uncertain: dict[tuple[int, bytes], int] = field(default_factory=dict, init=False)
    _open: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _loading: asyncio.Task[None] | None = field(default=None, init=False)
    _flusher: asyncio.Task[None] | None = field(default=None, init=False)
    _save_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        self._open.set()

    def partition_of(self, tenant_id: str) -> int:
        return status_partition(tenant_id, self.partitions)

    def _learn(self, found: dict[int, dict[bytes, int]]) -> None:
        for s, ids in found.items():
            self._seen[s].update(ids)
            if ids:
                self._ends[s] = max(self._ends.get(s, 0), max(ids.values()) + 1)

    async def _ensure_floor(self, source: Source, s: int) -> None:
        """A floor for (source, s) is in Redis before the source's first event on ``s``."""
        if s in self._floors.get(source, {}):
            return
        async with self._save_lock:
            floors = self._floors.setdefault(source, {})
            if s in floors:
                return
            starts = [
                j.start for j in self._counting(source) if j.source == source and j.partition == s
            ]
            lowest = {(source, s): min(starts)} if starts else {}
            value = self._floor(source, s, self._ends.get(s, 0), lowest)
            await self.checkpoints.save(source, {s: value})
            floors[s] = value

    # -- floors and pruning --------------------------------------------------------------

    def _counting(self, source: Source | None = None) -> Iterable[OutboxJob]:
        """The jobs whose events a replay may repeat: running, or ended but not committed."""
        yield from self._jobs
        if source is not None:
            yield from self._retained.get(source, ())
        else:
            for retained in self._retained.values():
                yield from retained

    def _lowest(self) -> dict[tuple[Source, int], int]:
        """Per (source, status partition): the lowest start of the jobs still counting."""
        lowest: dict[tuple[Source, int], int] = {}
        for j in self._counting():
            if j.source is not None and j.partition is not None:
                k = (j.source, j.partition)
                lowest[k] = min(lowest.get(k, j.start), j.start)
        return lowest

    def _floor(
        self, source: Source, s: int, default: int, lowest: Mapping[tuple[Source, int], int]
    ) -> int:
        candidates = [lowest[(source, s)]] if (source, s) in lowest else []
        replay = self._replays.get(source)
        if replay is not None and s in replay.floors:
            candidates.append(replay.floors[s])
        return min(candidates, default=default)

    def _release_committed(self) -> None:
        """Forget ended jobs (and replays) whose source offsets are committed."""
        if self.committed is None:
            return
        committed = self.committed()
        for source, retained in list(self._retained.items()):
            upto = committed.get(source)
            if upto is not None:
                self._retained[source] = [j for j in retained if j.offset >= upto]
        for source, replay in list(self._replays.items()):
            upto = committed.get(source)
            if upto is not None and upto >= replay.end:
                del self._replays[source]

    async def flush(self) -> None:
        """Advance the floors in Redis; forget events no job still counting can repeat."""
        async with self._save_lock:
            self._release_committed()
            lowest = self._lowest()
            for source in sorted(self._owned):
                floors = self._floors.get(source)
                if not floors:
                    continue
                update = {}
                for s, old in floors.items():
                    value = self._floor(source, s, self._ends.get(s, old), lowest)
                    if value > old:
                        update[s] = value
                if update:
                    await self.checkpoints.save(source, update)
                    floors.update(update)
        self._prune()

    def _prune(self) -> None:
        lowest: dict[int, int] = {}
        for j in self._counting():
            if j.partition is not None:
                lowest[j.partition] = min(lowest.get(j.partition, j.start), j.start)
        for replay in self._replays.values():
            for s, offset in replay.floors.items():
                lowest[s] = min(lowest.get(s, offset), offset)
        for s in list(self._seen):
            floor = lowest.get(s)
            if floor is None:
                del self._seen[s]
            else:
                seen = self._seen[s]
                for eid in [e for e, offset in seen.items() if offset < floor]:
                    del seen[eid]

    def remembered(self) -> int:
        """How many eventIds are held for de-duplication (a gauge; bounded by the floors)."""
        return sum(len(seen) for seen in self._seen.values())

    def _ensure_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except INFRA_ERRORS as exc:
                log.warning("outbox checkpoint not saved; retrying", extra={"error": repr(exc)})

    async def close(self) -> None:
        for task in (self._flusher, self._loading):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._flusher = self._loading = None
