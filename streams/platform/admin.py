"""Kafka administration: wait for the broker, create Herald's topics explicitly.

Herald creates its own topics rather than relying on broker auto-creation: brokers
(tansu, and Kafka with ``auto.create.topics.enable``) would otherwise create them on
the first metadata request with *their* default partition count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, for_code

from schemas.errors import BrokerUnavailable
from schemas.settings import Settings
from streams.platform.infra import until_answered

__all__ = ["BrokerUnavailable", "TopicCreationError", "ensure_topics", "wait_for_broker"]

logger = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36
_MAX_BACKOFF = 1.0


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic (non-retriable error, or retries exhausted)."""


def _admin(bootstrap: str, request_timeout: float) -> Any:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="herald-admin",
        request_timeout_ms=max(int(request_timeout * 1000), 1000),
    )


async def _tcp_unreachable(bootstrap: str) -> OSError | None:
    """Plain TCP probe first, so that a broker still starting does not make aiokafka log errors."""
    error: OSError | None = None
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]") or "localhost", int(port)), 2.0
            )
        except (OSError, TimeoutError, ValueError) as exc:
            error = exc if isinstance(exc, OSError) else OSError(str(exc) or type(exc).__name__)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return None
    return error


async def wait_for_broker(bootstrap: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Retry a cluster metadata request until the broker answers, or raise after ``timeout``."""

    async def attempt() -> BaseException | None:
        unreachable = await _tcp_unreachable(bootstrap)
        if unreachable is not None:
            return unreachable
        admin = _admin(bootstrap, min(5.0, max(timeout, 1.0)))
        try:
            await admin.start()
            await admin.describe_cluster()
            return None
        except (KafkaError, OSError, TimeoutError) as exc:
            return exc
        finally:
            await admin.close()

    last = await until_answered(attempt, timeout, max_delay=_MAX_BACKOFF)
    if last is not None:
        raise BrokerUnavailable(
            f"Kafka at {bootstrap} did not answer within {timeout:g}s: {last}"
        ) from last


async def _create(admin: Any, settings: Settings, names: set[str], budget: float) -> set[str]:
    """One CreateTopics round; returns the topics that must be retried."""
    response = await admin.create_topics(
        [
            NewTopic(name, settings.topic_partitions, settings.topic_replication_factor)
            for name in sorted(names)
        ],
        timeout_ms=max(int(budget * 1000), 1000),
    )
    retry: set[str] = set()
    for entry in response.topic_errors:
        topic, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        if code == 0:
            logger.info(
                "kafka topic created",
                extra={"topic": topic, "partitions": settings.topic_partitions},
            )
        elif code == _TOPIC_ALREADY_EXISTS:
            logger.debug("kafka topic already exists", extra={"topic": topic})
        elif for_code(code).retriable:
            retry.add(topic)
        else:
            error = for_code(code)
            raise TopicCreationError(
                f"cannot create topic {topic!r}: {error.__name__} ({code}) {message or ''}".strip()
            )
    return retry


def _pending_metadata(described: list[Any], settings: Settings) -> set[str]:
    """Topics whose metadata is not complete yet (unknown, or partitions without a leader)."""
    pending: set[str] = set()
    for topic in described:
        name = topic["topic"]
        partitions = topic["partitions"]
        if topic["error_code"] != 0 or not partitions:
            pending.add(name)
            continue
        if any(p["error_code"] != 0 or p["leader"] < 0 for p in partitions):
            pending.add(name)
            continue
        if len(partitions) != settings.topic_partitions:
            logger.warning(
                "kafka topic exists with a different partition count",
                extra={
                    "topic": name,
                    "partitions": len(partitions),
                    "expected": settings.topic_partitions,
                },
            )
    return pending


async def ensure_topics(
    settings: Settings,
    topics: Sequence[str] | None = None,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - overall deadline
) -> None:
    """Create ``topics`` (default ``settings.all_topics``) if missing; idempotent.

    Uses ``settings.topic_partitions`` and ``settings.topic_replication_factor``.
    Waits for the broker first and until every topic has a leader for every partition.
    A topic that already exists is left as it is (a different partition count is
    logged as a warning). Raises :class:`BrokerUnavailable` or :class:`TopicCreationError`.
    """
    names = list(dict.fromkeys(topics if topics is not None else settings.all_topics))
    if not names:
        return
    bootstrap = settings.kafka_bootstrap_servers
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await wait_for_broker(bootstrap, timeout)
    admin = _admin(bootstrap, min(10.0, timeout))
    try:
        await admin.start()
        pending = set(names)
        delay = 0.05
        while pending:
            pending = await _create(admin, settings, pending, deadline - loop.time())
            if pending:
                if loop.time() >= deadline:
                    raise TopicCreationError(f"topics not created in {timeout:g}s: {pending}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
        # Only now ask for metadata: on tansu, a metadata request auto-creates unknown topics.
        delay = 0.05
        while True:
            waiting = _pending_metadata(await admin.describe_topics(names), settings)
            if not waiting:
                return
            if loop.time() >= deadline:
                raise TopicCreationError(f"topics without leaders after {timeout:g}s: {waiting}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)
    except KafkaError as exc:
        raise BrokerUnavailable(
            f"Kafka at {bootstrap} failed during topic creation: {exc}"
        ) from exc
    finally:
        await admin.close()
