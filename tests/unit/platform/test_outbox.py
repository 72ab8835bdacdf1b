"""The status outbox: one event per eventId across crashes, floors, read-back, races.

The broker is an in-memory partitioned log (``Log``) implementing the outbox's
``TailReader``; a "crash" is dropping an outbox without letting it finish or flush, and
the next owner is a new outbox over the same log and checkpoints.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from schemas import Status, StatusEvent
from streams.platform.metrics import prometheus_text
from streams.platform.outbox import Source, StatusOutbox, status_partition
from tests.outbox_log import PARTITIONS, REQUESTS, TOPIC, TP, Log, Memory


def outbox(log: Log, memory: Memory) -> StatusOutbox:
    return StatusOutbox(
        status_topic=TOPIC,
        source_topics=frozenset({REQUESTS}),
        partitions=PARTITIONS,
        reader=log,
        checkpoints=memory,
        flush_interval=3600,  # flushes are explicit here
    )


def event(nid: str, status: Status, tenant: str = "acme", attempt: int = 0) -> StatusEvent:
    return StatusEvent(notification_id=nid, tenant_id=tenant, status=status, attempt=attempt)


async def emit(box: StatusOutbox, log: Log, ev: StatusEvent) -> bool:
    async def produce(partition: int) -> int:
        return log.append(partition, ev)

    return await box.send(ev, produce)


async def run_record(
    box: StatusOutbox, log: Log, offset: int, events: list[StatusEvent], partition: int = 0
) -> list[bool]:
    """One consumed record's job emitting ``events`` in order; returns what was produced."""
    sent: list[bool] = []

    async def job() -> None:
        for ev in events:
            sent.append(await emit(box, log, ev))

    await box.tracked(REQUESTS, partition, offset, events[0].tenant_id, job)()
    return sent


async def died_after_record_zero() -> tuple[Log, Memory]:
    """A first owner of requests partition 0 that emitted record 0's ``accepted``, the
    source moved past it, and died without a flush: the log and the floors it left."""
    log, memory = Log(), Memory()
    first = outbox(log, memory)
    await first.assign([TP(REQUESTS, 0)])
    await run_record(first, log, 0, [event("n0", Status.ACCEPTED)])
    log.sources[0] = 1
    return log, memory


def _deduplicated(status: str) -> float:
    """The ``herald_status_deduplicated_total`` sample for ``status`` on the scrape."""
    for line in prometheus_text().decode().splitlines():
        if line.startswith("herald_status_deduplicated_total{") and f'status="{status}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_the_status_partition_is_kafkas_default_partition_of_the_tenant() -> None:
    # murmur2 values published with Kafka's Java client (org.apache.kafka.common.utils.Utils),
    # as quoted by Akka's Murmur2Spec; Kafka's partition is toPositive(hash) % partitions.
    published = {"1": -1993445489, "12": 126087238, "123": -267702483, "12345": -1188365604}
    for key, signed in published.items():
        for n in (1, 3, 8, 12):
            assert status_partition(key, n) == (signed & 0x7FFFFFFF) % n


async def test_a_replay_after_a_crash_produces_no_event_twice() -> None:
    log, memory = Log(), Memory()
    first = outbox(log, memory)
    await first.assign([TP(REQUESTS, 0)])
    # Record 0 finished; record 1 emitted two events, then the worker died (no flush).
    await run_record(first, log, 0, [event("n0", Status.ACCEPTED), event("n0", Status.SENT)])
    await run_record(first, log, 1, [event("n1", Status.ACCEPTED), event("n1", Status.SENT)])
    log.sources[0] = 2
    del first

    second = outbox(log, memory)
    await second.assign([TP(REQUESTS, 0)])
    sent_before = _deduplicated("sent")
    replayed = await run_record(
        second, log, 1, [event("n1", Status.ACCEPTED), event("n1", Status.SENT)]
    )
    assert replayed == [False, False]
    assert second.skipped == 2
    assert _deduplicated("sent") == sent_before + 1
    # New transitions still go out, once.
    assert await emit(second, log, event("n1", Status.DELIVERED)) is True
    assert max(log.ids().values()) == 1
    assert len(log.ids()) == 5


async def test_the_floor_is_saved_before_the_first_event_and_never_passes_a_running_job() -> None:
    log, memory = Log(), Memory()
    box = outbox(log, memory)
    await box.assign([TP(REQUESTS, 0)])
    s = status_partition("acme", PARTITIONS)
    for i in range(3):  # someone else's events: the partition does not start empty
        log.append(s, event(f"other{i}", Status.READ))
    source = Source(REQUESTS, 0)
    slow_started, release = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        slow_started.set()
        await release.wait()
        await emit(box, log, event("slow", Status.SENT))

    await box.flush()
    task = asyncio.create_task(box.tracked(REQUESTS, 0, 0, "acme", slow)())
    await slow_started.wait()
    await run_record(box, log, 1, [event("fast", Status.SENT)])
    assert memory.floors[source][s] <= 0  # saved at the first event, below the slow job
    for i in range(5):
        await run_record(box, log, 2 + i, [event(f"n{i}", Status.SENT)])
    await box.flush()
    assert memory.floors[source][s] == 0  # the slow job started when the end was 0
    release.set()
    await task
    await box.flush()
    assert memory.floors[source][s] == len(log.partitions[s])  # nothing running: the end


async def test_a_second_crash_during_the_replay_still_finds_the_first_ones_events() -> None:
    log, memory = await died_after_record_zero()
    for i in range(4):  # others write to the partition meanwhile
        log.append(status_partition("acme", PARTITIONS), event(f"x{i}", Status.READ))

    second = outbox(log, memory)  # record 0 not replayed yet when this one dies, flushed
    await second.assign([TP(REQUESTS, 0)])
    await second.flush()
    third = outbox(log, memory)
    await third.assign([TP(REQUESTS, 0)])
    assert await run_record(third, log, 0, [event("n0", Status.ACCEPTED)]) == [False]
    # Once the records left by the dead owners are done, the floor moves on.
    await run_record(third, log, 1, [event("n1", Status.ACCEPTED)])
    await third.flush()
    s = status_partition("acme", PARTITIONS)
    assert memory.floors[Source(REQUESTS, 0)][s] == len(log.partitions[s])
    assert third.remembered() == 0
    assert max(log.ids().values()) == 1


async def test_sources_follow_the_tenant_not_the_request_partition_number() -> None:
    # A producer with another partitioner put tenant "globex" on request partition 5.
    tenant = "globex"
    s = status_partition(tenant, PARTITIONS)
    p = (s + 3) % PARTITIONS
    log, memory = Log(), Memory()
    first = outbox(log, memory)
    await first.assign([TP(REQUESTS, p)])
    await run_record(first, log, 0, [event("g", Status.ACCEPTED, tenant)], partition=p)
    assert memory.floors == {Source(REQUESTS, p): {s: 0}}
    assert len(log.partitions[s]) == 1
    assert not log.partitions[p]
    log.sources[p] = 1
    second = outbox(log, memory)
    await second.assign([TP(REQUESTS, p)])
    assert await run_record(second, log, 0, [event("g", Status.ACCEPTED, tenant)], p) == [False]


async def test_concurrent_sends_of_one_event_produce_it_once() -> None:
    log, memory = Log(), Memory()
    box = outbox(log, memory)
    ev = event("n", Status.SENT)
    release = asyncio.Event()

    async def produce(partition: int) -> int:
        await release.wait()
        return log.append(partition, ev)

    tasks = [asyncio.create_task(box.send(ev, produce)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    assert sorted(await asyncio.gather(*tasks)) == [False, False, True]
    assert log.ids() == Counter({ev.event_id: 1})


async def test_a_send_whose_acknowledgement_was_lost_is_checked_before_it_is_repeated() -> None:
    log, memory = Log(), Memory()
    box = outbox(log, memory)
    ev = event("n", Status.SENT)

    async def written_then_lost(partition: int) -> int:
        log.append(partition, ev)
        raise TimeoutError("no acknowledgement")

    with pytest.raises(TimeoutError):
        await box.send(ev, written_then_lost)
    assert await emit(box, log, ev) is False
    other = event("m", Status.SENT)

    async def not_written(partition: int) -> int:
        raise TimeoutError("no acknowledgement")

    with pytest.raises(TimeoutError):
        await box.send(other, not_written)
    assert await emit(box, log, other) is True
    assert log.ids() == Counter({ev.event_id: 1, other.event_id: 1})


async def test_events_wait_for_the_read_back() -> None:
    log, memory = await died_after_record_zero()
    log.gate = asyncio.Event()
    second = outbox(log, memory)
    loading = second.assign([TP(REQUESTS, 0)])
    replay = asyncio.create_task(run_record(second, log, 0, [event("n0", Status.ACCEPTED)]))
    webhook = asyncio.create_task(emit(second, log, event("n0", Status.DELIVERED)))
    for _ in range(50):  # let every ready task run: both are parked on the read-back
        await asyncio.sleep(0)
    assert not replay.done()
    assert not webhook.done()
    log.gate.set()
    await loading
    assert await replay == [False]
    assert await webhook is True
    assert max(log.ids().values()) == 1


async def test_eventids_are_one_per_transition() -> None:
    sent = [event("n", Status.SENT, attempt=a).event_id for a in (0, 1, 3)]
    failed = [event("n", Status.FAILED, attempt=a).event_id for a in (0, 2)]
    retrying = [event("n", Status.RETRYING, attempt=a).event_id for a in (1, 2)]
    assert len(set(sent)) == 1
    assert len(set(failed)) == 1
    assert len(set(retrying)) == 2  # one per failed attempt
    assert event("n", Status.SENT, tenant="other").event_id != sent[0]
    assert len({sent[0], failed[0], *retrying, event("n", Status.ACCEPTED).event_id}) == 5


async def test_a_revoked_source_floor_is_left_to_its_new_owner() -> None:
    log, memory = Log(), Memory()
    old, new = outbox(log, memory), outbox(log, memory)
    await old.assign([TP(REQUESTS, 0)])
    s = status_partition("acme", PARTITIONS)
    release, emitted = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        await emit(new, log, event("n", Status.ACCEPTED))
        emitted.set()
        await release.wait()

    await run_record(old, log, 0, [event("m", Status.ACCEPTED)])
    old.revoke([TP(REQUESTS, 0)])
    await new.assign([TP(REQUESTS, 0)])
    job = asyncio.create_task(new.tracked(REQUESTS, 0, 1, "acme", slow)())
    await emitted.wait()
    for i in range(3):
        await run_record(old, log, 5 + i, [event(f"z{i}", Status.ACCEPTED)])  # draining
    await old.flush()  # must not raise the floor above the new owner's running job
    assert memory.floors[Source(REQUESTS, 0)][s] <= 1
    release.set()
    await job


async def test_a_batch_is_produced_in_order_without_what_is_already_there() -> None:
    log, memory = Log(), Memory()
    box = outbox(log, memory)
    first, second = event("a", Status.ACCEPTED), event("b", Status.ACCEPTED)
    await emit(box, log, first)
    order: list[str] = []

    async def enqueue(ev: StatusEvent, partition: int) -> asyncio.Future[int]:
        order.append(ev.notification_id)
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        done.set_result(log.append(partition, ev))
        return done

    batch = [first, second, event("b", Status.SENT), second]
    assert await box.send_many(batch, enqueue) == [False, True, True, False]
    assert order == ["b", "b"]
    assert max(log.ids().values()) == 1

    async def broken(ev: StatusEvent, partition: int) -> asyncio.Future[int]:
        log.append(partition, ev)  # appended, but the acknowledgement is an error
        failed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        failed.set_exception(TimeoutError("no acknowledgement"))
        return failed

    with pytest.raises(TimeoutError):
        await box.send_many([event("c", Status.ACCEPTED), event("d", Status.ACCEPTED)], broken)
    again = [event("c", Status.ACCEPTED), event("d", Status.ACCEPTED), event("e", Status.SENT)]
    assert await box.send_many(again, enqueue) == [False, False, True]
    assert max(log.ids().values()) == 1


async def test_a_finished_record_counts_until_its_offset_is_committed() -> None:
    # The router replays a finished but uncommitted record by emitting its events again:
    # its floor must hold until the commit, not only until the job ends.
    log, memory = Log(), Memory()
    committed: dict[Source, int] = {}
    first = outbox(log, memory)
    first.committed = lambda: committed
    await first.assign([TP(REQUESTS, 0)])
    s = status_partition("acme", PARTITIONS)
    done = [event("n0", Status.ACCEPTED), event("n0", Status.SENT)]
    await run_record(first, log, 0, done)
    for i in range(3):  # others write to the partition after record 0 finished
        log.append(s, event(f"x{i}", Status.READ))
    await first.flush()
    assert memory.floors[Source(REQUESTS, 0)][s] == 0  # record 0 not committed yet
    log.sources[0] = 1
    del first  # dies before the commit of offset 0

    second = outbox(log, memory)
    second.committed = lambda: committed
    await second.assign([TP(REQUESTS, 0)])
    assert await run_record(second, log, 0, done) == [False, False]
    assert max(log.ids().values()) == 1
    committed[Source(REQUESTS, 0)] = 1  # now committed: the floor may pass it
    await second.flush()
    assert memory.floors[Source(REQUESTS, 0)][s] == len(log.partitions[s])


async def test_a_batch_attributes_each_event_to_its_own_record() -> None:
    # One produce batch carries the events of records from two source partitions: each
    # source gets its floor before its event, and a replay of either is de-duplicated.
    log, memory = Log(), Memory()
    committed: dict[Source, int] = {}
    first = outbox(log, memory)
    first.committed = lambda: committed
    await first.assign([TP(REQUESTS, 0), TP(REQUESTS, 1)])
    await first.opened()
    owners = [first.begin(REQUESTS, 0, 5, "acme"), first.begin(REQUESTS, 1, 7, "globex")]
    events = [event("a", Status.ACCEPTED, "acme"), event("g", Status.ACCEPTED, "globex")]

    async def enqueue(ev: StatusEvent, partition: int) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.set_result(log.append(partition, ev))
        return future

    assert await first.send_many(events, enqueue, owners) == [True, True]
    for owner in owners:
        first.finish(owner)
    assert set(memory.floors) == {Source(REQUESTS, 0), Source(REQUESTS, 1)}
    assert memory.floors[Source(REQUESTS, 0)] == {status_partition("acme", PARTITIONS): 0}
    assert memory.floors[Source(REQUESTS, 1)] == {status_partition("globex", PARTITIONS): 0}
    log.sources.update({0: 6, 1: 8})
    del first

    second = outbox(log, memory)
    await second.assign([TP(REQUESTS, 0), TP(REQUESTS, 1)])
    assert await run_record(second, log, 5, [events[0]]) == [False]
    assert await run_record(second, log, 7, [events[1]], partition=1) == [False]
    assert max(log.ids().values()) == 1
