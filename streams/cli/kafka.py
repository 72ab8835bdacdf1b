"""Kafka for the commands: a visible, bounded wait for the broker, and plain consumers.

The consumers here join no consumer group: they read every partition of the topics
they are given (like ``kcat -C``), so following notifications never disturbs Herald's
own groups and leaves no committed offsets behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.settings import Settings
from streams.cli.errors import CommandError, ServiceUnavailable, UsageError
from streams.platform.admin import BrokerUnavailable, wait_for_broker

__all__ = [
    "BROKER_WAIT_DEFAULT",
    "add_broker_wait",
    "follow",
    "from_the_start",
    "wait_for_kafka",
]

#: Seconds a command waits for the broker unless ``--broker-wait`` says otherwise.
BROKER_WAIT_DEFAULT = 30.0

_HINT = "start the broker, check KAFKA_BOOTSTRAP_SERVERS, or wait longer with --broker-wait"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more seconds")
    return value


def add_broker_wait(parser: argparse.ArgumentParser, default: float = BROKER_WAIT_DEFAULT) -> None:
    parser.add_argument(
        "--broker-wait",
        type=_seconds,
        default=default,
        metavar="SECONDS",
        help=f"how long to wait for Kafka to answer (default {default:g}; 0: ask once)",
    )


async def _ticker(bootstrap: str, seconds: float) -> None:
    """On a terminal, a live count of the seconds waited so far."""
    waited = 0
    while True:
        await asyncio.sleep(1)
        waited += 1
        sys.stderr.write(f"\rherald: waiting for Kafka at {bootstrap}: {waited}s of {seconds:g}s")
        sys.stderr.flush()


async def wait_for_kafka(settings: Settings, seconds: float) -> None:
    """Return once the broker answers; say so on stderr when it does not answer at once.

    Raises :class:`ServiceUnavailable` after ``seconds``.
    """
    bootstrap = settings.kafka_bootstrap_servers
    try:
        await wait_for_broker(bootstrap, 0)
        return
    except BrokerUnavailable as exc:
        if seconds <= 0:
            raise ServiceUnavailable(f"Kafka at {bootstrap} did not answer", _HINT) from exc
    print(
        f"herald: waiting up to {seconds:g}s for Kafka at {bootstrap} "
        "(--broker-wait SECONDS to change)",
        file=sys.stderr,
        flush=True,
    )
    ticker = asyncio.create_task(_ticker(bootstrap, seconds)) if sys.stderr.isatty() else None
    try:
        await wait_for_broker(bootstrap, seconds)
    except BrokerUnavailable as exc:
        raise ServiceUnavailable(
            f"Kafka at {bootstrap} did not answer within {seconds:g}s", _HINT
        ) from exc
    finally:
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            sys.stderr.write("\n")


@asynccontextmanager
async def follow(
    settings: Settings, topics: Sequence[str], *, from_beginning: bool = False
) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer assigned every partition of ``topics``, positioned at their end.

    The end offsets are resolved before this returns: whatever is produced afterwards
    is read. ``from_beginning`` starts at the oldest records instead. A topic that does
    not exist is an error (it is never auto-created here: only existing topics are
    asked for).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        client_id="herald-cli",
    )
    await consumer.start()
    try:
        existing = await consumer.topics()  # all topics: does not create any
        missing = [t for t in topics if t not in existing]
        if missing:
            raise CommandError(
                f"no topic {', '.join(missing)} on Kafka at {settings.kafka_bootstrap_servers}",
                "a worker creates Herald's topics when it starts (`herald worker`); "
                "check the HERALD_TOPIC_* settings",
            )
        partitions: list[TopicPartition] = []
        for topic in topics:
            numbers = consumer.partitions_for_topic(topic) or set()
            partitions.extend(TopicPartition(topic, p) for p in sorted(numbers))
        consumer.assign(partitions)
        if from_beginning:
            offsets = await consumer.beginning_offsets(partitions)
        else:
            offsets = await consumer.end_offsets(partitions)
        for tp, offset in offsets.items():
            consumer.seek(tp, offset)
        yield consumer
    finally:
        await consumer.stop()


def check_topics(settings: Settings, topics: Sequence[str]) -> list[str]:
    """``topics`` if every one is Herald's; else a usage error listing Herald's topics."""
    known = settings.all_topics
    unknown = [t for t in topics if t not in known]
    if unknown:
        raise UsageError(
            f"not one of Herald's topics: {', '.join(unknown)}",
            "Herald's topics: " + ", ".join(known),
        )
    return list(dict.fromkeys(topics))


async def from_the_start(settings: Settings, *topics: str) -> AIOKafkaConsumer:
    """A started consumer of ``topics`` from their first records (the demos' watchers)."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    return consumer
