"""An in-memory status topic for the outbox's tests: a partitioned log and floors.

``Log`` implements the outbox's ``TailReader`` (its ``status`` topic, and the ends of
the consumed ``requests`` partitions in ``sources``); ``Memory`` its ``Checkpoints``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable

import orjson

from schemas import StatusEvent
from streams.platform.outbox import Source

TOPIC = "status"
REQUESTS = "requests"
PARTITIONS = 8


class Log:
    """A partitioned log: ``append`` is a produce, reads see what was appended."""

    def __init__(self) -> None:
        self.partitions: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
        self.sources: dict[int, int] = {p: 0 for p in range(PARTITIONS)}  # requests ends
        self.gate: asyncio.Event | None = None  # set: reads wait for it
        self.reads = 0

    def append(self, partition: int, event: StatusEvent) -> int:
        self.partitions[partition].append(event.to_json())
        return len(self.partitions[partition]) - 1

    async def end_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        if self.gate is not None:
            await self.gate.wait()
        if topic == TOPIC:
            return {p: len(self.partitions[p]) for p in partitions}
        return {p: self.sources[p] for p in partitions}

    async def event_ids(
        self, topic: str, starts: dict[int, int], ends: dict[int, int]
    ) -> dict[int, dict[bytes, int]]:
        self.reads += 1
        found: dict[int, dict[bytes, int]] = {}
        for p, start in starts.items():
            records = self.partitions[p][start : ends[p]]
            found[p] = {
                bytes.fromhex(orjson.loads(v)["eventId"]): start + i for i, v in enumerate(records)
            }
        return found

    def ids(self) -> Counter[str]:
        return Counter(
            orjson.loads(v)["eventId"] for records in self.partitions.values() for v in records
        )


class Memory:
    def __init__(self) -> None:
        self.floors: dict[Source, dict[int, int]] = {}

    async def load(self, source: Source) -> dict[int, int]:
        return dict(self.floors.get(source, {}))

    async def save(self, source: Source, floors: dict[int, int]) -> None:
        self.floors.setdefault(source, {}).update(floors)


class TP:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition
