"""(a) Raw aiokafka: the limit of the client stack on this machine.

``python -m bench.raw --bootstrap B --source T --sink S`` consumes the request topic and,
per batch, produces one status event per request (same JSON shape and size as Herald's
``sent``), waits for the broker's acknowledgements, then commits the offsets: the same
at-least-once contract as the router, without the router's work. It runs in its own
process so that its CPU seconds and peak RSS are measured like the worker's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.measure import Load, measure
from bench.report import Result
from bench.stack import Process, Stack
from streams.platform.admin import ensure_topics

__all__ = [
    "anchor_clients",
    "anchor_parser",
    "assign_source",
    "main",
    "run",
    "run_anchor",
    "same_loop_as_worker",
    "status_for",
]


def status_for(value: bytes) -> bytes:
    """A ``sent`` status event for a request, shaped like Herald's ``StatusEvent``."""
    request = orjson.loads(value)
    tenant, nid = request["tenantId"], request["id"]
    event_id = hashlib.sha256(f"{tenant}\x00{nid}\x00sent\x001".encode()).hexdigest()[:32]
    return orjson.dumps(
        {
            "eventId": event_id,
            "notificationId": nid,
            "tenantId": tenant,
            "channel": request.get("channel"),
            "provider": "whatsapp-business",
            "status": "sent",
            "timestamp": datetime.now(UTC).isoformat(),
            "attempt": 1,
            "providerMessageId": f"wamid.{uuid.uuid4().hex}",
            "error": None,
            "nextAttemptAt": None,
            "metadata": request.get("metadata") or {},
        }
    )


def anchor_clients(bootstrap: str, group: str) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
    """An anchor's consumer (manual commits, from the earliest offset) and producer (acks
    from all replicas), configured alike in every anchor."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        # tansu answers a fetch only at its max wait when no data was there at once (it
        # does not wake the long poll on new data): keep it short for the latency runs.
        fetch_max_wait_ms=10,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    return consumer, producer


async def assign_source(consumer: AIOKafkaConsumer, source: str) -> None:
    """Assign every partition of ``source`` to the started ``consumer``, then print the
    ``ready`` line :func:`run_anchor` waits for."""
    await consumer.topics()  # fetches the cluster metadata
    assigned = [TopicPartition(source, p) for p in consumer.partitions_for_topic(source) or ()]
    consumer.assign(assigned)
    print("ready", flush=True)


def anchor_parser(description: str | None) -> argparse.ArgumentParser:
    """The command line every anchor takes: ``--bootstrap --source --sink --group``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--group", required=True)
    return parser


async def passthrough(bootstrap: str, source: str, sink: str, group: str) -> None:
    consumer, producer = anchor_clients(bootstrap, group)
    await consumer.start()
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await assign_source(consumer, source)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=2000)
            futures = []
            for records in batches.values():
                for record in records:
                    value = status_for(record.value)
                    futures.append(await producer.send(sink, key=record.key, value=value))
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


async def run(stack: Stack, loads: Sequence[tuple[str, str, Load]]) -> list[Result]:
    """Start the passthrough process and measure each ``(key, title, load)`` through it."""
    return await run_anchor(stack, "raw", "bench.raw", [], loads)


async def run_anchor(
    stack: Stack,
    name: str,
    module: str,
    extra_args: Sequence[str],
    loads: Sequence[tuple[str, str, Load]],
) -> list[Result]:
    """Start an anchor program (``python -m module``) on fresh topics; measure through it."""
    settings = stack.settings(name)
    await ensure_topics(settings)
    argv = [
        sys.executable,
        "-m",
        module,
        "--bootstrap",
        stack.bootstrap,
        "--source",
        settings.topic_requests,
        "--sink",
        settings.topic_status,
        "--group",
        settings.app_id,
        *extra_args,
    ]
    process = await stack.launch(name.replace("-", "_"), argv)
    try:
        await _wait_ready(process)
        results = []
        for key, title, load in loads:
            results.append(
                await measure(
                    stack,
                    key=key,
                    title=title,
                    process=process,
                    requests_topic=settings.topic_requests,
                    status_topic=settings.topic_status,
                    load=load,
                )
            )
        return results
    finally:
        await stack.stop(process)


async def _wait_ready(process: Process, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while "ready" not in process.log_tail(5):
        if not process.running or loop.time() > deadline:
            raise RuntimeError(f"raw passthrough did not start:\n{process.log_tail()}")
        await asyncio.sleep(0.1)


def same_loop_as_worker() -> None:
    """The anchors run on the event loop Herald's worker runs on (``HERALD_EVENT_LOOP``,
    uvloop by default): the ratios compare the same client stack."""
    if os.environ.get("HERALD_EVENT_LOOP", "uvloop") == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main() -> None:
    args = anchor_parser(__doc__).parse_args()
    same_loop_as_worker()
    asyncio.run(passthrough(args.bootstrap, args.source, args.sink, args.group))


if __name__ == "__main__":
    main()
