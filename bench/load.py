"""The load generator: produce notification requests, wait for their ``sent`` events.

Requests are spread over many tenants (the Kafka key) and recipients (the ordering key);
each request's produce time is kept by id, and its latency is the time its ``sent``
status event is consumed minus that. Both ends run in the bench process, on one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

__all__ = [
    "BURST_FETCH_MAX_WAIT_MS",
    "FETCH_MAX_WAIT_MS",
    "RECIPIENTS",
    "Collector",
    "Outcome",
    "make_requests",
    "recipient_index",
    "run_load",
    "text_request",
]

_TERMINAL_OTHER = {"failed", "rejected"}

#: The collector's fetch wait in paced runs: latencies "to `sent` consumed" are late by up
#: to this (tansu answers a long poll only at its max wait when no data was there at once).
#: Bursts use 100 ms: in a burst data is always there, and each early fetch costs the broker
#: CPU that the worker would miss on two cores (see docs/performance.md).
FETCH_MAX_WAIT_MS = 10
BURST_FETCH_MAX_WAIT_MS = 100


#: Distinct recipients per run: each gets ``messages / RECIPIENTS`` requests, in order.
RECIPIENTS = 1000


def recipient_index(i: int, recipients: int = RECIPIENTS) -> int:
    """The recipient of request ``i``: a permutation, so that neighbours differ.

    With ``recipients`` a multiple of the tenant count, a recipient always belongs to
    one tenant (``i mod recipients`` fixes ``i mod tenants``).
    """
    return (i * 7919) % recipients


def make_requests(
    prefix: str, count: int, tenant_ids: Sequence[str], recipients: int = RECIPIENTS
) -> list[tuple[bytes, bytes, str]]:
    """``count`` requests as (key, value, id): round-robin over tenants and recipients."""
    return [
        text_request(
            f"{prefix}-{i}",
            tenant_ids[i % len(tenant_ids)],
            f"+55119{recipient_index(i, recipients):08d}",
            f"Your order #{i} has shipped and will arrive tomorrow.",
            {"orderId": i, "bench": prefix},
        )
        for i in range(count)
    ]


def text_request(
    nid: str, tenant: str, phone: str, text: str, metadata: dict[str, Any]
) -> tuple[bytes, bytes, str]:
    """One WhatsApp text request as (key, value, id): keyed by tenant, as producers do."""
    body = {
        "id": nid,
        "tenantId": tenant,
        "channel": "whatsapp",
        "recipient": {"phone": phone},
        "content": {"body": text},
        "metadata": metadata,
    }
    return tenant.encode(), orjson.dumps(body), nid


@dataclass
class Outcome:
    produced: int
    sent: int
    seconds: float  # first produce -> last `sent` consumed
    latencies_ms: list[float]  # produce -> `sent` consumed
    emit_latencies_ms: list[float]  # produce -> `sent` produced (its record's CreateTime)
    other: dict[str, int] = field(default_factory=dict)  # failed/rejected/retrying counts
    complete: bool = True
    first_produced: float = 0.0  # perf_counter of the first produce call


class Collector:
    """Consumes the status topic from the start; resolves when every id has its ``sent``."""

    def __init__(
        self, bootstrap: str, topic: str, fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=fetch_max_wait_ms,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self.sent_at: dict[str, float] = {}  # perf_counter when consumed
        self.emitted_at: dict[str, float] = {}  # wall clock of the record (CreateTime)
        self.other: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> Collector:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event = orjson.loads(record.value)
                    status = event.get("status")
                    if status == "sent":
                        nid = event["notificationId"]
                        if nid not in self.sent_at:
                            self.sent_at[nid] = now
                            self.emitted_at[nid] = record.timestamp / 1000
                    elif status in _TERMINAL_OTHER or status == "retrying":
                        self.other[status] = self.other.get(status, 0) + 1
            if batches:
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()

    async def wait_all(self, ids: set[str], deadline: float) -> bool:
        """Wait until every id in ``ids`` was sent; False at the ``perf_counter`` deadline."""
        while True:
            changed = self._changed
            if all(i in self.sent_at for i in ids):
                return True
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 1.0))


async def _produce(
    producer: AIOKafkaProducer,
    topic: str,
    requests: Sequence[tuple[bytes, bytes, str]],
    produced_at: dict[str, float],
    wall_at: dict[str, float],
    rate: float | None,
) -> None:
    futures = []
    if rate is None:
        for key, value, nid in requests:
            produced_at[nid] = time.perf_counter()
            wall_at[nid] = time.time()
            futures.append(await producer.send(topic, key=key, value=value))
    else:
        start = time.perf_counter()
        i = 0
        while i < len(requests):
            due = min(len(requests), int((time.perf_counter() - start) * rate) + 1)
            while i < due:
                key, value, nid = requests[i]
                produced_at[nid] = time.perf_counter()
                wall_at[nid] = time.time()
                futures.append(await producer.send(topic, key=key, value=value))
                i += 1
            await asyncio.sleep(0.001)
    await asyncio.gather(*futures)


async def run_load(
    bootstrap: str,
    requests_topic: str,
    collector: Collector,
    requests: Sequence[tuple[bytes, bytes, str]],
    *,
    rate: float | None = None,
    timeout: float = 120.0,  # noqa: ASYNC109 - the outcome says it is incomplete
) -> Outcome:
    """Produce ``requests`` (a burst, or paced at ``rate``/s) and wait for every ``sent``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    produced_at: dict[str, float] = {}
    wall_at: dict[str, float] = {}
    before = dict(collector.other)
    started = time.perf_counter()
    producing = asyncio.create_task(
        _produce(producer, requests_topic, requests, produced_at, wall_at, rate)
    )
    try:
        ids = {nid for _, _, nid in requests}
        complete = await collector.wait_all(ids, started + timeout)
        await producing
    finally:
        producing.cancel()
        await asyncio.gather(producing, return_exceptions=True)
        await producer.stop()
    sent = [(nid, collector.sent_at[nid]) for nid in ids if nid in collector.sent_at]
    latencies = [(at - produced_at[nid]) * 1000 for nid, at in sent]
    emitted = [(collector.emitted_at[nid] - wall_at[nid]) * 1000 for nid, _ in sent]
    last = max((at for _, at in sent), default=time.perf_counter())
    first = min(produced_at.values(), default=started)
    other = {k: v - before.get(k, 0) for k, v in collector.other.items() if v != before.get(k, 0)}
    return Outcome(
        produced=len(requests),
        sent=len(sent),
        seconds=last - first,
        latencies_ms=latencies,
        emit_latencies_ms=emitted,
        other=other,
        complete=complete,
        first_produced=first,
    )
