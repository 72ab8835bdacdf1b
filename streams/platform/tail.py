"""The outbox's partition rule and I/O: a status partition's tail (Kafka), floors (Redis).

:class:`KafkaTailReader` uses a plain aiokafka consumer outside any consumer group
(manual assignment, no commits): the end of a partition is the high watermark of a fetch
response (the embedded broker's ListOffsets is wrong after multi-record batches), and
the tail is fetched from the floor to that end. Nothing here relies on what the embedded
broker gets wrong (ListOffsets, metadata in OffsetCommit, transactions).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2
from redis.asyncio import Redis

from streams.tenancy import keys

__all__ = [
    "Checkpoints",
    "KafkaTailReader",
    "RedisCheckpoints",
    "Source",
    "TailReader",
    "checkpoint_key",
    "status_partition",
]


log = logging.getLogger(__name__)

#: How long :meth:`KafkaTailReader.close` waits for its consumer to stop. aiokafka's
#: fetcher task can stay cancelled-but-pending after a read on the embedded broker, and
#: its ``close`` waits for it with the cancellation suppressed: without this bound a
#: worker's graceful stop hung until it was killed.
CLOSE_SECONDS = 3.0


def status_partition(tenant_id: str, partitions: int) -> int:
    """Kafka's default partition for key ``tenant_id`` (``toPositive(murmur2(key)) % n``)."""
    hashed: int = murmur2(tenant_id.encode())
    return (hashed & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, order=True, slots=True)
class Source:
    """A consumed topic-partition whose records produce status events."""

    topic: str
    partition: int


class TailReader(Protocol):
    """Reads a topic's offsets and the ``eventId`` s of a status partition's tail."""

    async def end_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]: ...

    async def event_ids(
        self, topic: str, starts: dict[int, int], ends: dict[int, int]
    ) -> dict[int, dict[bytes, int]]:
        """``{partition: {event id bytes: offset}}`` of records in ``[start, end)``."""
        ...


class Checkpoints(Protocol):
    """Durable floors: ``{status partition: offset}`` per source."""

    async def load(self, source: Source) -> dict[int, int]: ...

    async def save(self, source: Source, floors: dict[int, int]) -> None: ...


class KafkaTailReader:
    def __init__(self, bootstrap_servers: str, *, request_timeout_ms: int = 30_000) -> None:
        self._bootstrap = bootstrap_servers
        self._timeout = request_timeout_ms
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _client(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                request_timeout_ms=self._timeout,
                client_id="herald-outbox",
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def end_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return {}
        async with self._lock:
            consumer = await self._client()
            listed = await consumer.end_offsets(tps)
            lower = {tp: int(offset) for tp, offset in listed.items()}
            try:
                high = await self._highwater(consumer, lower)
            finally:
                consumer.assign([])
        return {tp.partition: end for tp, end in high.items()}

    @staticmethod
    async def _highwater(
        consumer: AIOKafkaConsumer, lower: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """The high watermarks as fetch responses give them (at least ``lower``).

        The embedded broker's ListOffsets answers the base offset of the last batch + 1,
        not the end, when that batch holds several records; its fetch responses carry
        the right high watermark. With Kafka both agree.
        """
        consumer.assign(list(lower))
        for tp, offset in lower.items():
            consumer.seek(tp, offset)
        high: dict[TopicPartition, int] = {}
        while len(high) < len(lower):
            await consumer.getmany(*[tp for tp in lower if tp not in high], timeout_ms=100)
            for tp in lower:
                hw = consumer.highwater(tp)
                if hw is not None and tp not in high:
                    high[tp] = max(lower[tp], int(hw))
        return high

    async def event_ids(
        self, topic: str, starts: dict[int, int], ends: dict[int, int]
    ) -> dict[int, dict[bytes, int]]:
        """Every ``eventId`` from ``starts`` to (at least) the end the read began with."""
        wanted = {TopicPartition(topic, p): start for p, start in starts.items()}
        found: dict[int, dict[bytes, int]] = {tp.partition: {} for tp in wanted}
        if not wanted:
            return found
        async with self._lock:
            consumer = await self._client()
            consumer.assign(list(wanted))
            for tp, start in wanted.items():
                consumer.seek(tp, start)
            targets: dict[TopicPartition, int] = {}
            remaining = set(wanted)
            try:
                while remaining:
                    batches = await consumer.getmany(*remaining, timeout_ms=100, max_records=5000)
                    for tp, records in batches.items():
                        for record in records:
                            eid = _event_id(record.value)
                            if eid is not None:
                                found[tp.partition][eid] = record.offset
                    for tp in list(remaining):
                        hw = consumer.highwater(tp)
                        if hw is None:
                            continue
                        # The first high watermark seen: what was there when the read began.
                        target = targets.setdefault(tp, max(int(hw), ends.get(tp.partition, 0)))
                        if await consumer.position(tp) >= target:
                            remaining.discard(tp)
            finally:
                consumer.assign([])
        return found

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            stopping = asyncio.ensure_future(consumer.stop())
            done, _ = await asyncio.wait({stopping}, timeout=CLOSE_SECONDS)
            if not done:  # see CLOSE_SECONDS
                stopping.cancel()
                log.warning("outbox tail consumer did not stop in time; left to the exit")


def _event_id(value: bytes | None) -> bytes | None:
    """The ``eventId`` of a status event's JSON; ``None`` for anything else on the topic."""
    try:
        data: Any = orjson.loads(value or b"")
        return bytes.fromhex(data["eventId"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def checkpoint_key(source: Source) -> str:
    return keys.outbox_floors(source.topic, source.partition)


class RedisCheckpoints:
    """One hash per source: field = status partition, value = floor offset. Never expires
    (a few fields per consumed partition)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def load(self, source: Source) -> dict[int, int]:
        raw = await self._redis.hgetall(checkpoint_key(source))
        return {int(k): int(v) for k, v in raw.items()}

    async def close(self) -> None:
        await self._redis.aclose()

    async def save(self, source: Source, floors: dict[int, int]) -> None:
        if floors:
            await self._redis.hset(
                checkpoint_key(source), mapping={str(k): str(v) for k, v in floors.items()}
            )
