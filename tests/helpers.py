"""Helpers shared by the tests: settings, Kafka produce/consume, worker subprocesses.

Fixtures in ``tests/conftest.py`` and ``tests/integration/conftest.py`` wrap these;
tests may also import them directly (``from tests.helpers import consume_until``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, RecordMetadata
from pydantic import BaseModel

from schemas.settings import Settings
from streams.platform.embedded import (
    find_free_port,
    settings_env,
    settings_env_names,
    spawn,
    terminate_process,
)

__all__ = [
    "FAST_GROUP_TIMINGS",
    "KafkaValue",
    "WorkerProcess",
    "consume_until",
    "earliest_consumer",
    "events_until_sent",
    "has",
    "herald_executable",
    "kept_root_logging",
    "make_settings",
    "new_secret_key",
    "notification_events",
    "produce",
    "produce_many",
    "settings_env",
    "settings_env_names",
    "topic_overrides",
]

KafkaValue = bytes | str | BaseModel | None
Headers = Mapping[str, str | bytes] | Sequence[tuple[str, bytes]] | None

#: Consumer-group timings that make the first join take ~3 s instead of ~30 s.
FAST_GROUP_TIMINGS: dict[str, Any] = {
    "broker_rebalance_timeout": 4.0,
    "broker_session_timeout": 6.0,
    "broker_heartbeat_interval": 1.0,
}


def new_secret_key() -> str:
    """A fresh HERALD_SECRET_KEY: 32 random bytes, urlsafe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@contextlib.contextmanager
def kept_root_logging() -> Iterator[None]:
    """The root logger's handlers and level put back on exit (Herald's CLI and
    ``configure_logging`` install their own handler, on the stream of the moment)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def topic_overrides(suffix: str) -> dict[str, str]:
    """Every topic field of Settings, renamed ``<default>.<suffix>``."""
    defaults = Settings.model_fields
    renamed = {
        name: f"{field.default}.{suffix}"
        for name, field in defaults.items()
        if name.startswith("topic_") and isinstance(field.default, str)
    }
    renamed["topic_retry_prefix"] = f"notifications.retry.{suffix}."  # a prefix, not a name
    return renamed


def make_settings(**overrides: Any) -> Settings:
    """Settings for a test, without infrastructure: unique app id and topics, no ``.env``.

    ``overrides`` use field names (``web_port=...``); they win over everything else.
    """
    suffix = uuid.uuid4().hex[:12]
    values: dict[str, Any] = {
        "app_id": f"herald-test-{suffix}",
        "web_host": "127.0.0.1",
        "web_port": find_free_port(),
        "metrics_port": find_free_port(),
        "retry_base_delay_seconds": 0.01,
        "retry_max_delay_seconds": 0.1,
        **FAST_GROUP_TIMINGS,
        **topic_overrides(suffix),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def _encode(value: KafkaValue) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        data = to_json()
        return data if isinstance(data, bytes) else str(data).encode()
    return value.model_dump_json(by_alias=True).encode()


def _headers(headers: Headers) -> list[tuple[str, bytes]] | None:
    if headers is None:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in items]


async def produce_many(
    settings: Settings,
    topic: str,
    records: Iterable[tuple[str | bytes | None, KafkaValue]],
    headers: Headers = None,
) -> list[RecordMetadata]:
    """Send ``(key, value)`` pairs with one producer; waits for every acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic,
                key=key.encode() if isinstance(key, str) else key,
                value=_encode(value),
                headers=_headers(headers),
            )
            for key, value in records
        ]
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


async def produce(
    settings: Settings,
    topic: str,
    key: str | bytes | None,
    value: KafkaValue,
    headers: Headers = None,
) -> RecordMetadata:
    """Send one record and wait for its acknowledgement."""
    (metadata,) = await produce_many(settings, topic, [(key, value)], headers)
    return metadata


def earliest_consumer(settings: Settings, topic: str, **options: Any) -> AIOKafkaConsumer:
    """A consumer of ``topic`` in no group: it reads from the earliest offset and commits
    nothing (``options`` go to ``AIOKafkaConsumer``). Not started."""
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **options,
    )


async def consume_until(
    settings: Settings,
    topic: str,
    until: int | Callable[[list[ConsumerRecord]], bool],
    timeout: float = 30.0,  # noqa: ASYNC109 - the error names what was received
    *,
    where: Callable[[ConsumerRecord], bool] | None = None,
) -> list[ConsumerRecord]:
    """Read ``topic`` from the earliest offset (no consumer group) until ``until`` holds.

    ``until`` is a record count, or a predicate over the records collected so far.
    ``where`` filters records before they are collected. Raises :class:`TimeoutError`,
    naming what was received, when the deadline passes first.
    """
    done = (lambda rs: len(rs) >= until) if isinstance(until, int) else until
    consumer = earliest_consumer(settings, topic)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    records: list[ConsumerRecord] = []
    await consumer.start()
    try:
        while not done(records):
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [r.value for r in records[-5:]]
                raise TimeoutError(
                    f"{topic}: condition not met within {timeout:g}s; "
                    f"collected {len(records)} record(s), last values: {seen!r}"
                )
            batches = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000) or 1)
            for partition_records in batches.values():
                records.extend(r for r in partition_records if where is None or where(r))
        return records
    finally:
        await consumer.stop()


def has(*statuses: str) -> Callable[[list[dict[str, Any]]], bool]:
    """A condition on status events: every one of ``statuses`` was seen."""
    return lambda events: set(statuses) <= {e["status"] for e in events}


async def notification_events(
    settings: Settings,
    notification_id: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 30.0,  # noqa: ASYNC109 - the error names what was received
) -> list[dict[str, Any]]:
    """The status events of ``notification_id``, read until ``until`` holds over them."""

    def mine(record: ConsumerRecord) -> bool:
        return bool(orjson.loads(record.value)["notificationId"] == notification_id)

    def done(records: list[ConsumerRecord]) -> bool:
        return until([orjson.loads(r.value) for r in records])

    records = await consume_until(
        settings, settings.topic_status, done, timeout=timeout, where=mine
    )
    return [orjson.loads(r.value) for r in records]


async def events_until_sent(settings: Settings, marker_id: str) -> list[dict[str, Any]]:
    """Every status event up to the ``sent`` of the (marker) notification ``marker_id``.

    A tenant's events share one partition, so an event caused before the marker was
    produced is read before the marker's ``sent``: a test proves an absence with this
    without waiting for a fixed time.
    """

    def marker_sent(records: list[ConsumerRecord]) -> bool:
        return any(
            (e := orjson.loads(r.value))["notificationId"] == marker_id and e["status"] == "sent"
            for r in records
        )

    records = await consume_until(settings, settings.topic_status, marker_sent)
    return [orjson.loads(r.value) for r in records]


def herald_executable() -> str:
    """The ``herald`` console script of the running interpreter's environment."""
    beside = Path(sys.executable).with_name("herald")
    if beside.exists():
        return str(beside)
    found = shutil.which("herald")
    if found is None:
        raise RuntimeError("the 'herald' console script is not installed (pip install -e .)")
    return found


class WorkerProcess:
    """A ``herald worker`` subprocess configured purely through environment variables.

    ``role="router"`` runs ``herald worker``, any other role ``herald worker <role>``;
    ``argv`` replaces the command entirely (e.g. ``[herald_executable(), "demo"]``).

    Ready once ``GET /health`` answers 200 (partitions assigned). Output goes to
    ``log_path``; failures quote its tail.
    """

    def __init__(
        self,
        settings: Settings,
        role: str = "router",
        *,
        workdir: Path,
        log_path: Path,
        extra_env: Mapping[str, str] | None = None,
        ready_timeout: float = 60.0,
        argv: Sequence[str] | None = None,
    ) -> None:
        self.settings = settings
        self.role = role
        self.workdir = workdir
        self.log_path = log_path
        self.extra_env = dict(extra_env or {})
        self.ready_timeout = ready_timeout
        if argv is None:
            argv = [herald_executable(), "worker"] + ([] if role == "router" else [role])
        self.argv = list(argv)
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    @property
    def metrics_url(self) -> str:
        """Base URL of the admin listener (``GET /metrics``)."""
        return f"http://127.0.0.1:{self.settings.metrics_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def env(self) -> dict[str, str]:
        aliases = set(settings_env_names().values())
        base = {k: v for k, v in os.environ.items() if k not in aliases}
        return {**base, **settings_env(self.settings), "PYTHONUNBUFFERED": "1", **self.extra_env}

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    async def start(self, *, wait: bool = True) -> WorkerProcess:
        if self.running:
            raise RuntimeError(f"worker {self.role} already running (pid {self.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {' '.join(self.argv)} ===\n".encode())
        self.process = await spawn(
            self.argv, log_path=self.log_path, env=self.env(), cwd=self.workdir
        )
        if wait:
            await self.wait_ready()
        return self

    async def wait_ready(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Poll ``/health`` until 200; on exit or deadline, raise with the log tail."""
        budget = self.ready_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        last = "no answer"
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while True:
                if not self.running:
                    code = self.process.returncode if self.process else None
                    raise RuntimeError(
                        f"worker {self.role} exited with code {code} before becoming ready; "
                        f"log {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    response = await client.get(f"{self.url}/health")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                if loop.time() >= deadline:
                    await self.kill()
                    raise TimeoutError(
                        f"worker {self.role} not ready within {budget:g}s ({last}); "
                        f"log {self.log_path}:\n{self.log_tail()}"
                    )
                await asyncio.sleep(0.1)

    async def logged(self, text: str, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Return once ``text`` is in the worker's log (a file: nothing to subscribe to)."""
        async with asyncio.timeout(timeout):
            while text not in self.log_tail(400):  # noqa: ASYNC110 - polls a log file
                await asyncio.sleep(0.1)

    async def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
        if self.process is None:
            return None
        return await terminate_process(self.process, grace)

    async def kill(self) -> int | None:
        """SIGKILL (a crash: no graceful shutdown); returns the exit code."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        return await self.process.wait()

    async def restart(self, *, wait: bool = True) -> WorkerProcess:
        await self.stop()
        return await self.start(wait=wait)
