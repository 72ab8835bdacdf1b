"""Spans and records for the tracing tests: one in-memory exporter, a recording wire.

* :func:`memory_exporter` installs (once per process: OpenTelemetry's global tracer
  provider can be set only once) an SDK tracer provider exporting to one
  ``InMemorySpanExporter``; the ``spans`` fixture (tests/conftest.py) clears it around
  each test.
* :class:`RecordingWire` stands in for Faust's topics and producer under the real
  :class:`~streams.platform.sink.FaustSink`, so that the records Herald would produce are
  kept with their headers (``MemorySink`` keeps no headers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from schemas import Settings

__all__ = [
    "Produced",
    "RecordingWire",
    "by_name",
    "memory_exporter",
    "traceparent_of",
    "wait_spans",
]

_EXPORTER = InMemorySpanExporter()


def memory_exporter() -> InMemorySpanExporter:
    """The process's tracer provider, recording in memory (installed on first use)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    return _EXPORTER


def by_name(spans: Iterable[ReadableSpan], name: str) -> ReadableSpan:
    [span] = [s for s in spans if s.name == name]
    return span


async def wait_spans(
    exporter: InMemorySpanExporter, done: Callable[[tuple[ReadableSpan, ...]], bool]
) -> tuple[ReadableSpan, ...]:
    """The finished spans once ``done`` says they are complete (bound it with a timeout).

    Spans end when their work returns, a moment after the record that work produced is
    seen; the exporter has no event to wait on, so this looks again every 10 ms.
    """
    while True:
        spans = exporter.get_finished_spans()
        if done(spans):
            return spans
        await asyncio.sleep(0.01)


@dataclass(frozen=True)
class Produced:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def traceparent_of(record: Produced) -> tuple[int, int]:
    """(trace id, parent span id) of a record's ``traceparent`` header."""
    [value] = [v for k, v in record.headers if k == "traceparent"]
    version, trace_id, span_id, _flags = value.decode().split("-")
    assert version == "00"
    return int(trace_id, 16), int(span_id, 16)


@dataclass
class RecordingWire:
    """Faust's topics and producer as far as ``FaustSink`` uses them, keeping every record."""

    settings: Settings
    records: list[Produced] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def topics(self) -> Any:
        s = self.settings
        return SimpleNamespace(
            status=self._topic(s.topic_status),
            dlq=self._topic(s.topic_dlq),
            requests=self._topic(s.topic_requests),
            retry={name: self._topic(name) for name in s.retry_topics.values()},
            dispatch_topic=lambda role: self._topic(s.topic_whatsapp_dispatch),
        )

    def on(self, topic: str) -> list[Produced]:
        return [r for r in self.records if r.topic == topic]

    async def wait_for(self, topic: str, predicate: Callable[[Produced], bool]) -> Produced:
        """The first record on ``topic`` that ``predicate`` accepts, once produced."""
        while True:
            changed = self._changed
            for record in self.on(topic):
                if predicate(record):
                    return record
            await changed.wait()

    def _keep(self, topic: str, key: Any, value: Any, headers: Any) -> asyncio.Future[Any]:
        self.records.append(Produced(topic, key, value, list(headers or ())))
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        acked.set_result(SimpleNamespace(offset=len(self.records) - 1))
        return acked

    def _topic(self, name: str) -> Any:
        wire = self

        async def produce(
            topic: str, key: Any, value: Any, partition: Any, timestamp: Any, headers: Any
        ) -> asyncio.Future[Any]:
            return wire._keep(topic, key, value, headers)

        async def send(*, key: Any, value: Any, headers: Any) -> asyncio.Future[Any]:
            return wire._keep(name, key, value, headers)

        return SimpleNamespace(
            get_topic_name=lambda: name,
            send=send,
            app=SimpleNamespace(producer=SimpleNamespace(send=produce)),
        )
