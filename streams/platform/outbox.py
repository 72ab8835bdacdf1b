"""Exactly one status event per transition: the de-duplicating outbox of the status topic.

Every status event carries a deterministic ``eventId`` (one per transition). A worker
that dies after producing an event but before recording in Redis that it did, replays
the record after the restart and would produce the event again. This module stops that
by reading back its own output:

* **Partition.** A status event goes to ``status_partition(tenant)``: Kafka's default
  partitioner (murmur2 of the tenant id, as the Java client and aiokafka compute it) over
  the status topic's partitions, chosen by Herald whatever partitioner the *request's*
  producer used. Every writer (router, retry agents, webhooks, the WhatsApp worker)
  therefore puts one tenant's events on one partition, in the order they were produced.
* **Checkpoints.** For each consumed topic-partition (a *source*: the requests topic and
  the delay topics; ``whatsapp.dispatch`` in the WhatsApp worker) Redis holds, per status partition, a *floor*: an offset of the status
  partition below which no event of a not-yet-finished record of that source can be. It
  is written before the source's first event on that status partition and advanced
  every ``flush_interval`` to the lowest start offset of the jobs still running (a job's
  start offset is the status partition's end, as known, when the job began).
* **Read-back.** When sources are assigned, the new owner reads each status partition
  from the lowest floor of its new sources to the partition's end, and keeps the
  ``eventId`` s found. Emissions wait until that is done. While the records that were
  uncommitted at assignment are replayed, an event already on the topic is skipped.
* **Until committed.** A record whose job has ended still counts for the floors until
  its source offset is committed (``committed``: the consumer's committed offsets, read
  in-process): until then a crash or a rebalance replays it, and the replay of a
  finished record emits its ``accepted`` and final events again (same ``eventId`` s,
  streams/pipeline/processor.py), which must be found on the topic and skipped.
* **In-process.** Events this process produced are remembered while the job that produced
  them runs (an infrastructure retry may repeat a step); two concurrent sends of one
  ``eventId`` produce once; a send whose outcome is unknown (the producer raised) is
  checked against the partition before it is produced again.

The limits (zombies, producer retries, other roles) are stated in docs/guarantees.md.
Hook points (marked ``HOOK(outbox)`` where they are used): :meth:`StatusOutbox.send` or
:meth:`StatusOutbox.send_many` (the sink; ``owners`` attributes each event of a batch to
its record), :meth:`StatusOutbox.tracked` (each consumed record's job) or, on the batch
path, :meth:`StatusOutbox.begin` + :meth:`StatusOutbox.run_as` (a handle per record,
taken before the chunk's ``accepted`` events are produced), :meth:`StatusOutbox.assign`
and :meth:`StatusOutbox.revoke` (the agents' rebalance signals).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from schemas import StatusEvent
from streams.platform.floors import OutboxJob, OutboxLedger, Replay
from streams.platform.infra import INFRA_ERRORS
from streams.platform.metrics import metrics
from streams.platform.tail import Checkpoints, Source, TailReader, status_partition

__all__ = [
    "Checkpoints",
    "OutboxJob",
    "Source",
    "StatusOutbox",
    "TailReader",
    "current_job",
    "status_partition",
]

log = logging.getLogger(__name__)

#: Produce the event to this status partition; return the offset the broker gave it.
Produce = Callable[[int], Awaitable[int]]
#: Hand the event to the producer for this partition; return its acknowledgement (the offset).
Enqueue = Callable[[StatusEvent, int], Awaitable[Awaitable[int]]]
Job = Callable[[], Awaitable[None]]


_current: ContextVar[OutboxJob | None] = ContextVar("herald_outbox_job", default=None)


def current_job() -> OutboxJob | None:
    """The record whose job is running in this task (to attribute events emitted later)."""
    return _current.get()


@dataclass(eq=False)
class StatusOutbox(OutboxLedger):
    """The status topic's de-duplicating outbox (the module's docstring says how)."""

    # -- assignment (hook: the agents' on_partitions_assigned) ---------------------------

    def assign(
        self, assigned: Iterable[Any], before: Callable[[], Awaitable[None]] | None = None
    ) -> asyncio.Task[None]:
        """Take the full assignment (objects with ``topic``/``partition``); read back.

        Synchronous up to closing the gate: no event is produced until the read-back of
        the newly assigned sources has finished (``before`` runs first, e.g. a start).
        """
        sources = {
            Source(tp.topic, tp.partition) for tp in assigned if tp.topic in self.source_topics
        }
        for gone in self._owned - sources:
            self._floors.pop(gone, None)
            self._replays.pop(gone, None)
            self._retained.pop(gone, None)
        new = sources - self._owned
        self._owned = sources
        previous = self._loading
        self._open.clear()
        self._loading = asyncio.create_task(self._load(new, previous, before))
        return self._loading

    def revoke(self, revoked: Iterable[Any]) -> None:
        """Partitions taken away (hook: on_partitions_revoked): stop writing their floors.

        Their new owner writes them from now on; a late flush from here could raise a
        floor above one of its running jobs.
        """
        for tp in revoked:
            gone = Source(tp.topic, tp.partition)
            self._owned.discard(gone)
            self._floors.pop(gone, None)
            self._replays.pop(gone, None)
            self._retained.pop(gone, None)

    async def _load(
        self,
        new: set[Source],
        previous: asyncio.Task[None] | None,
        before: Callable[[], Awaitable[None]] | None,
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            if before is not None:
                await before()
            if new:
                await self._retrying(lambda: self._read_back(new), "status read-back")
            self._ensure_flusher()
        except Exception:  # a bug: log it; stalling every emission would be worse
            log.exception("status read-back failed; de-duplication incomplete")
        finally:
            if self._loading is asyncio.current_task():
                self._open.set()

    async def _read_back(self, new: set[Source]) -> None:
        floors = {src: await self.checkpoints.load(src) for src in new}
        ends = await self.reader.end_offsets(self.status_topic, range(self.partitions))
        source_ends: dict[Source, int] = {}
        for topic in {src.topic for src in new}:
            parts = [src.partition for src in new if src.topic == topic]
            for p, end in (await self.reader.end_offsets(topic, parts)).items():
                source_ends[Source(topic, p)] = end
        starts: dict[int, int] = {}
        for per_source in floors.values():
            for s, offset in per_source.items():
                starts[s] = min(starts.get(s, offset), offset)
        todo = dict(starts)
        found = await self.reader.event_ids(self.status_topic, todo, ends) if todo else {}
        self._learn(found)
        for s, end in ends.items():
            self._ends[s] = max(self._ends.get(s, 0), end)
        for src in new:
            if src not in self._owned:
                continue  # revoked again meanwhile
            self._floors[src] = dict(floors[src])
            if floors[src] and source_ends.get(src, 0) > 0:
                self._replays[src] = Replay(end=source_ends.get(src, 0), floors=floors[src])
        log.info(
            "status partitions read back",
            extra={
                "sources": len(new),
                "partitions": sorted(todo),
                "events": sum(len(ids) for ids in found.values()),
            },
        )

    async def _retrying(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        delay = 0.2
        while True:
            try:
                await step()
                return
            except INFRA_ERRORS as exc:
                log.warning(
                    "infrastructure error; retrying", extra={"what": what, "error": repr(exc)}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- jobs (hook: the processor, one per consumed record) -----------------------------

    def tracked(self, topic: str, partition: int, offset: int, tenant: str | None, job: Job) -> Job:
        """``job`` as one record's work: its events are attributed to that record."""

        async def run() -> None:
            await self._open.wait()
            await self.run_as(self.begin(topic, partition, offset, tenant), job)

        return run

    async def opened(self) -> None:
        """Return once no read-back is running (call before :meth:`begin`)."""
        await self._open.wait()

    def begin(self, topic: str, partition: int, offset: int, tenant: str | None) -> OutboxJob:
        """A record's job starts counting now (synchronous: a batch takes one per record)."""
        source = Source(topic, partition) if topic in self.source_topics else None
        s = self.partition_of(tenant) if tenant is not None else None
        start = self._ends.get(s, 0) if s is not None else 0
        entry = OutboxJob(source, offset, s, start)
        replay = self._replays.get(source) if source is not None else None
        if replay is not None:
            replay.started = max(replay.started, offset)
        self._jobs.add(entry)
        return entry

    async def run_as(self, entry: OutboxJob, job: Job) -> None:
        """Run ``job`` as ``entry``'s work (the events it emits are the record's); end it."""
        token = _current.set(entry)
        try:
            await job()
        finally:
            _current.reset(token)
            self.finish(entry)

    def finish(self, entry: OutboxJob) -> None:
        """The record's job ended; it counts until its offset is committed (``committed``)."""
        self._jobs.discard(entry)
        source = entry.source
        if source is None:
            return
        if self.committed is not None:
            if entry.partition is not None and source in self._owned:
                self._retained.setdefault(source, []).append(entry)
            return
        if source in self._replays:
            self._check_replay(source)

    def _check_replay(self, source: Source | None) -> None:
        if source is None or (replay := self._replays.get(source)) is None:
            return
        if replay.started < replay.end - 1:
            return
        if any(j.source == source and j.offset < replay.end for j in self._jobs):
            return
        del self._replays[source]  # every record the last owner may have left is done

    # -- emission (hook: the sink) -------------------------------------------------------

    async def send(self, event: StatusEvent, produce: Produce) -> bool:
        """Produce ``event`` unless its ``eventId`` is on the topic already; ``True`` if sent."""

        async def enqueue(_: StatusEvent, partition: int) -> Awaitable[int]:
            return asyncio.ensure_future(produce(partition))

        (sent,) = await self.send_many([event], enqueue)
        return sent

    async def send_many(
        self,
        events: Sequence[StatusEvent],
        enqueue: Enqueue,
        owners: Sequence[OutboxJob | None] | None = None,
    ) -> list[bool]:
        """Batch form of :meth:`send`: decide each event in order, hand the ones to produce
        to ``enqueue(event, partition)`` in order (it returns the acknowledgement's
        awaitable, resolving to the offset), then await the acknowledgements together.

        ``owners[i]`` is the record ``events[i]`` belongs to (default: the job running in
        this task, :func:`current_job`): a batch may carry the events of many records.
        """
        await self._open.wait()
        self._ensure_flusher()
        default = _current.get()
        chosen: list[tuple[int, tuple[int, bytes]]] = []
        keys: set[tuple[int, bytes]] = set()
        for i, event in enumerate(events):
            job = default if owners is None else owners[i]
            s = self.partition_of(event.tenant_id)
            key = (s, bytes.fromhex(event.event_id))
            if key in keys:
                self._skip(event)
                continue
            if key in self._pending or key in self._uncertain:  # rare: ask the slow way
                if not await self._fresh(key):
                    self._skip(event)
                    continue
            elif key[1] in self._seen[s]:
                self._skip(event)
                continue
            source = job.source if job is not None and job.partition == s else None
            if source is not None and source in self._owned:
                floors = self._floors.get(source)
                if floors is None or s not in floors:
                    await self._ensure_floor(source, s)
            keys.add(key)
            chosen.append((i, key))
        loop = asyncio.get_running_loop()
        claims: dict[tuple[int, bytes], tuple[asyncio.Future[bool], int]] = {}
        for _, key in chosen:
            claims[key] = (loop.create_future(), self._ends.get(key[0], 0))
            self._pending[key] = claims[key][0]
        sent = [False] * len(events)
        try:
            acks = [(i, key, await enqueue(events[i], key[0])) for i, key in chosen]
            for i, key, ack in acks:
                offset = await ack
                self._settle(key, claims.pop(key)[0], offset)
                sent[i] = True
        finally:
            for key, (future, start) in claims.items():  # not acknowledged: maybe on the broker
                self._uncertain[key] = start
                self._pending.pop(key, None)
                future.set_result(False)
        return sent

    async def _fresh(self, key: tuple[int, bytes]) -> bool:
        """Whether ``key`` is neither on the topic nor being produced by someone else."""
        s, eid = key
        if key not in self._pending and key not in self._uncertain:  # the usual case
            return eid not in self._seen[s]
        while (other := self._pending.get(key)) is not None:
            if await asyncio.shield(other):
                return False
        if eid in self._seen[s]:
            return False
        if key in self._uncertain:
            await self._resolve_uncertain(s, self._uncertain[key])
            self._uncertain.pop(key, None)
            if eid in self._seen[s]:
                return False
        return True

    def _settle(self, key: tuple[int, bytes], future: asyncio.Future[bool], offset: int) -> None:
        s, eid = key
        self._seen[s][eid] = offset
        self._ends[s] = max(self._ends.get(s, 0), offset + 1)
        self._pending.pop(key, None)
        self._uncertain.pop(key, None)
        future.set_result(True)

    def _skip(self, event: StatusEvent) -> bool:
        self.skipped += 1
        metrics().deduplicated(event.status.value)
        log.info(
            "status event already on the topic; not produced again",
            extra={
                "tenant_id": event.tenant_id,
                "notification_id": event.notification_id,
                "status": event.status.value,
            },
        )
        return False

    async def _resolve_uncertain(self, s: int, start: int) -> None:
        ends = await self.reader.end_offsets(self.status_topic, [s])
        self._learn(await self.reader.event_ids(self.status_topic, {s: start}, ends))
