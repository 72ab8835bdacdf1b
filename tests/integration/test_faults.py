"""Delivery guarantees under faults, with real worker processes (marked slow; run in CI).

- crash: ``kill -9`` in the middle of 10,000 requests, then a restart;
- outages: the broker, then Redis, frozen for 30 s each (SIGSTOP: the embedded broker
  is memory-only, so a real stop would lose the topics; a frozen process is what a
  network partition looks like to clients);
- bad input at scale: 10,000 records, mostly malformed, interleaved with valid ones;
- misbehaving providers: a hanging number cannot stall other tenants.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import Settings
from streams.platform.embedded import embedded_kafka, embedded_redis
from tests.helpers import earliest_consumer, make_settings, produce_many
from tests.integration.fault_rig import (
    UNLIMITED,
    Rig,
    request,
    setup_rig,
    wait_finished,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_kill_9_in_the_middle_of_10000_requests(rig_factory: Callable[..., Any]) -> None:
    rig: Rig = await rig_factory()
    run = uuid.uuid4().hex[:8]
    reqs = [request(i, run=run) for i in range(10_000)]
    ids = [r["id"] for r in reqs]
    # Every 10th first attempt fails retryably: those go through the delay topics, so the
    # kill also cuts retries (their envelopes are replayed from a delay topic).
    flaky = {r["id"] for r in reqs[::10]}
    for r in reqs[::10]:
        rig.sandbox.fail(r["recipient"]["phone"], 131000, http_status=500, times=1)
    worker = await rig.worker()
    await produce_many(
        rig.settings, rig.settings.topic_requests, [(b"acme", orjson.dumps(r)) for r in reqs]
    )
    async with asyncio.timeout(120):
        await rig.sandbox.wait_for(lambda: len(rig.sandbox.messages) >= 3000)
    await worker.kill()
    killed_at = len(rig.sandbox.messages)
    await worker.restart()
    await wait_finished(rig.outcomes, ids, timeout=300)

    calls = rig.provider_calls()
    assert max(calls.values()) == 1, "a provider received a notification twice"
    assert killed_at < 10_000, "the kill came too late to test anything"
    outcome_count: Counter[str] = Counter()
    for req in reqs:
        terminal = rig.outcomes.terminal(req["id"])
        assert len(terminal) == 1, f"{req['id']}: {terminal}"  # exactly one terminal status
        (status,) = terminal
        outcome_count[status] += 1
        phone = req["recipient"]["phone"].lstrip("+")
        if status == "sent":
            assert calls[phone] == 1
        else:  # only the calls cut by the kill: failed, never resent
            [failed] = [e for e in rig.outcomes.events[req["id"]] if e["status"] == "failed"]
            assert failed["error"]["code"] == "outcome_unknown"
    assert outcome_count["sent"] + outcome_count["failed"] == 10_000
    assert outcome_count["failed"] <= rig.settings.max_in_flight
    # Exactly one event per transition: no eventId twice on the status topic, across the
    # crash (the restarted worker read its status partition back), and one per status.
    event_ids = Counter(e["eventId"] for nid in ids for e in rig.outcomes.events[nid])
    repeated = {eid: n for eid, n in event_ids.items() if n > 1}
    assert not repeated, [
        (e["notificationId"], e["status"])
        for nid in ids
        for e in rig.outcomes.events[nid]
        if e["eventId"] in repeated
    ]
    retried = 0
    for req in reqs:
        statuses = Counter(e["status"] for e in rig.outcomes.events[req["id"]])
        assert statuses["accepted"] == 1, (req["id"], statuses)
        assert set(statuses.values()) == {1}, (req["id"], statuses)
        assert set(statuses) - {"accepted", "sent", "failed"} <= (
            {"retrying"} if req["id"] in flaky else set()
        ), (req["id"], statuses)
        retried += statuses["retrying"]
    assert retried > len(flaky) // 2  # the retry path was exercised, around the kill


async def test_broker_and_redis_outages(tmp_path: Path, test_secret_key: str) -> None:
    async with AsyncExitStack() as stack:
        bootstrap = await stack.enter_async_context(
            embedded_kafka(log_path=tmp_path / "broker.log")
        )
        redis_url = await stack.enter_async_context(embedded_redis())
        settings = make_settings(
            kafka_bootstrap_servers=bootstrap,
            redis_url=redis_url,
            secret_key=test_secret_key,
            rate_limits=UNLIMITED,
        )
        rig = await setup_rig(stack, settings, tmp_path)
        worker = await rig.worker()
        run = uuid.uuid4().hex[:8]
        reqs = [request(i, run=run) for i in range(600)]

        async def trickle() -> None:
            for chunk in range(0, len(reqs), 50):
                batch = reqs[chunk : chunk + 50]
                await produce_many(
                    rig.settings,
                    rig.settings.topic_requests,
                    [(b"acme", orjson.dumps(r)) for r in batch],
                )
                await asyncio.sleep(0.2)  # paces the producer (not a wait for an outcome)

        producing = asyncio.create_task(trickle())
        broker_pid = _pid_listening(bootstrap)
        redis_pid = _pid_listening(redis_url)
        async with asyncio.timeout(60):
            await rig.sandbox.wait_for(lambda: len(rig.sandbox.messages) >= 100)
        for pid in (broker_pid, redis_pid):
            os.kill(pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(30)  # the outage itself
                assert worker.running, "the worker died during the outage"
            finally:
                os.kill(pid, signal.SIGCONT)
        await producing
        await wait_finished(rig.outcomes, [r["id"] for r in reqs], timeout=240)
        assert worker.running
        calls = rig.provider_calls()
        assert max(calls.values()) == 1
        for req in reqs:
            assert rig.outcomes.terminal(req["id"]) == {"sent"}, req["id"]


def _pid_listening(address: str) -> int:
    """The pid of the process listening on ``address``'s port (the embedded service)."""
    port = int(address.rsplit(":", 1)[1].split("/")[0])
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "0A":
                    inodes.add(cols[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    raise LookupError(f"no process listens on {address}")


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise LookupError("VmRSS")


def _garbage(rng: random.Random, i: int, run: str) -> bytes:
    kind = i % 6
    if kind == 0:
        return rng.randbytes(rng.randint(0, 300))
    if kind == 1:  # wrong types
        return orjson.dumps(
            {"id": f"{run}-bad-{i}", "tenantId": "acme", "channel": 7, "recipient": "x"}
        )
    if kind == 2:  # huge field, beyond HERALD_MAX_REQUEST_BYTES
        return orjson.dumps(
            {"id": f"{run}-bad-{i}", "tenantId": "acme", "content": {"body": "x" * 70_000}}
        )
    if kind == 3:  # wrong encoding
        return '{"id": "é", "tenantId": "acme"}'.encode("utf-16")
    if kind == 4:  # no tenant
        return orjson.dumps({"id": f"{run}-bad-{i}"})
    return orjson.dumps(
        {
            "id": f"{run}-bad-{i}",
            "tenantId": "acme",
            "channel": "whatsapp",
            "recipient": {"phone": "12"},
            "content": {"body": "bad phone"},
        }
    )


async def test_bad_input_at_scale(rig_factory: Callable[..., Any]) -> None:
    rig: Rig = await rig_factory(max_request_bytes=65_536)
    worker = await rig.worker()
    assert worker.pid is not None
    rss_before = _rss_kib(worker.pid)
    rng = random.Random(7)
    run = uuid.uuid4().hex[:8]
    records: list[tuple[bytes, bytes]] = []
    valid_ids, rejected_ids = [], []
    bad_count = 0
    for i in range(10_000):
        if i % 10 == 0:
            req = request(i, run=run)
            valid_ids.append(req["id"])
            records.append((b"acme", orjson.dumps(req)))
        else:
            value = _garbage(rng, i, run)
            if i % 6 in (1, 5):
                rejected_ids.append(f"{run}-bad-{i}")
            bad_count += 1
            records.append((b"acme", value))
    await produce_many(rig.settings, rig.settings.topic_requests, records)
    await wait_finished(rig.outcomes, valid_ids + rejected_ids, timeout=240)
    assert worker.running
    for nid in valid_ids:
        assert rig.outcomes.terminal(nid) == {"sent"}
    for nid in rejected_ids:
        assert rig.outcomes.terminal(nid) == {"rejected"}
    dead = await _count(rig.settings, rig.settings.topic_dlq, bad_count - len(rejected_ids))
    assert dead == bad_count - len(rejected_ids)
    growth_mib = (_rss_kib(worker.pid) - rss_before) / 1024
    assert growth_mib < 200, f"worker memory grew by {growth_mib:.0f} MiB"


async def _count(settings: Settings, topic: str, expected: int) -> int:
    consumer = earliest_consumer(settings, topic)
    await consumer.start()
    seen = 0
    try:
        async with asyncio.timeout(120):
            while seen < expected:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                seen += sum(len(v) for v in batches.values())
    finally:
        await consumer.stop()
    return seen


async def test_a_hanging_provider_does_not_stall_other_tenants(
    rig_factory: Callable[..., Any],
) -> None:
    rig: Rig = await rig_factory(
        tenants=("acme", "globex"),
        provider_timeout_seconds=1.0,
        send_max_attempts=2,
        bulkhead_limit=4,
        max_in_flight=16,
    )
    run = uuid.uuid4().hex[:8]
    stuck = [request(i, "acme", run) for i in range(40)]
    for r in stuck:
        rig.sandbox.hang(r["recipient"]["phone"])
    garbled = request(500, "globex", run)
    rig.sandbox.garble(garbled["recipient"]["phone"], http_status=200, body=b"<html>not json")
    fine = [request(1000 + i, "globex", run) for i in range(40)]
    await rig.worker()
    await produce_many(
        rig.settings,
        rig.settings.topic_requests,
        [(r["tenantId"].encode(), orjson.dumps(r)) for r in [*stuck, garbled, *fine]],
    )
    # The other tenant's notifications all go through while acme's provider hangs.
    await wait_finished(rig.outcomes, [r["id"] for r in fine], timeout=60)
    assert all(rig.outcomes.terminal(r["id"]) == {"sent"} for r in fine)
    # The hanging calls time out, are retried, and end failed; garbage is an error, not a crash.
    await wait_finished(rig.outcomes, [r["id"] for r in [*stuck, garbled]], timeout=120)
    for r in stuck:
        [failed] = [e for e in rig.outcomes.events[r["id"]] if e["status"] == "failed"]
        assert failed["error"]["code"] == "provider_timeout"
    assert rig.outcomes.terminal(garbled["id"]) == {"failed"}
