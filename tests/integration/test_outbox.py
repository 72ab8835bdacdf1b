"""The status outbox on the real broker and Redis: read-back, floors, a crash between two owners."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from schemas import Settings, Status, StatusEvent
from streams.platform.admin import ensure_topics
from streams.platform.outbox import Source, StatusOutbox, status_partition
from streams.platform.tail import KafkaTailReader, RedisCheckpoints
from tests.helpers import consume_until

pytestmark = pytest.mark.integration


class TP:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition


def event(nid: str, status: Status, tenant: str = "acme") -> StatusEvent:
    return StatusEvent(notification_id=nid, tenant_id=tenant, status=status)


@pytest.mark.redis_cluster  # the floors, on one node and on a Redis Cluster
async def test_a_new_owner_reads_back_and_skips_what_the_dead_one_produced(
    settings_factory: Callable[..., Settings], redis: Redis
) -> None:
    settings = settings_factory()
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    readers: list[KafkaTailReader] = []

    def owner() -> StatusOutbox:
        reader = KafkaTailReader(settings.kafka_bootstrap_servers)
        readers.append(reader)
        return StatusOutbox(
            status_topic=settings.topic_status,
            source_topics=frozenset({settings.topic_requests}),
            partitions=settings.topic_partitions,
            reader=reader,
            checkpoints=RedisCheckpoints(redis),
            flush_interval=3600,
        )

    async def emit(box: StatusOutbox, ev: StatusEvent) -> bool:
        async def produce(partition: int) -> int:
            md = await producer.send_and_wait(
                settings.topic_status, ev.to_json(), key=ev.tenant_id.encode(), partition=partition
            )
            return int(md.offset)

        return await box.send(ev, produce)

    async def record(box: StatusOutbox, offset: int, events: list[StatusEvent]) -> list[bool]:
        sent: list[bool] = []

        async def job() -> None:
            for ev in events:
                sent.append(await emit(box, ev))

        await box.tracked(settings.topic_requests, 2, offset, "acme", job)()
        return sent

    try:
        s = status_partition("acme", settings.topic_partitions)
        # Not a status event: someone else's garbage on the topic is read past.
        await producer.send_and_wait(settings.topic_status, b"\xff not json", partition=s)
        first = owner()
        await first.assign([TP(settings.topic_requests, 2), TP("elsewhere", 0)])
        lost = [event("n1", Status.ACCEPTED), event("n1", Status.SENT)]
        assert await record(first, 0, lost) == [True, True]
        floors = await RedisCheckpoints(redis).load(Source(settings.topic_requests, 2))
        assert floors == {s: 1}  # saved before the first event: the end was 1 then

        second = owner()  # the first one died: its record 0 is replayed
        await second.assign([TP(settings.topic_requests, 2)])
        assert await record(second, 0, lost) == [False, False]
        assert await record(second, 1, [event("n2", Status.ACCEPTED)]) == [True]
        records = await consume_until(
            settings, settings.topic_status, lambda rs: len(rs) >= 4, timeout=30
        )
        ids = Counter(orjson.loads(r.value)["eventId"] for r in records if r.value[:1] == b"{")
        assert ids == Counter({e.event_id: 1 for e in [*lost, event("n2", Status.ACCEPTED)]})
        assert {r.partition for r in records} == {s}
        await second.flush()
        floors = await RedisCheckpoints(redis).load(Source(settings.topic_requests, 2))
        assert floors == {s: 4}  # every record done: the floor is the end
    finally:
        await producer.stop()
        for reader in readers:
            await reader.close()


async def test_the_end_of_a_partition_is_right_after_multi_record_batches(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory()
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=20
    )
    await producer.start()
    reader = KafkaTailReader(settings.kafka_bootstrap_servers)
    try:
        events = [event(f"n{i}", Status.ACCEPTED) for i in range(30)]
        pending = [
            await producer.send(settings.topic_status, e.to_json(), partition=1) for e in events
        ]
        offsets = [(await p).offset for p in pending]
        assert offsets == list(range(30))  # one batch, or a few: several records each
        ends = await reader.end_offsets(settings.topic_status, [0, 1])
        assert ends == {0: 0, 1: 30}
        found = await reader.event_ids(settings.topic_status, {1: 10}, {1: 0})
        assert found == {1: {bytes.fromhex(e.event_id): 10 + i for i, e in enumerate(events[10:])}}
    finally:
        await producer.stop()
        await reader.close()
