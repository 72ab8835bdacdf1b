"""Traces across Kafka: the W3C trace context in record headers, OTLP export when configured.

Configuration is OpenTelemetry's own (docs/tracing.md): spans are exported over OTLP/HTTP
when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set
(``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG`` are read by the SDK); ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` keep it off. Off, the API's no-op tracer is used: spans
are non-recording, and no header is added to a record that had none.

The pieces the pipeline uses, all plain functions:

* :func:`extract` / :func:`inject` -- the context from / into Kafka headers
  (``list[tuple[str, bytes]]``), through the globally configured propagator
  (``OTEL_PROPAGATORS``, W3C ``tracecontext,baggage`` by default).
* :func:`consume_span` -- a CONSUMER span continuing a record's context.
* :func:`produce_span` -- a PRODUCER span; yields the headers to send with the record.
* :func:`batch_span` -- one span for a batch, *linking* each record's context.
* :func:`work_span` -- a step of a notification's work (resolve, a WhatsApp Web send).
* Log records carry ``trace_id`` and ``span_id`` (hex) while a span is current.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import Link, Span, SpanKind

from streams.platform.tracing_config import (
    configure_tracing,
    install_log_correlation,
    instrument_http_client,
    shutdown_tracing,
    tracing_on,
    tracing_requested,
)

__all__ = [
    "TRACE_HEADER_NAMES",
    "batch_span",
    "configure_tracing",
    "consume_span",
    "extract",
    "inject",
    "install_log_correlation",
    "instrument_http_client",
    "produce_span",
    "remember",
    "shutdown_tracing",
    "status_headers",
    "traced_job",
    "tracer",
    "tracing_on",
    "tracing_requested",
    "work_span",
]

Headers = Sequence[tuple[str, bytes]]

#: The headers the W3C propagators read and write.
TRACE_HEADER_NAMES = ("traceparent", "tracestate", "baggage")

_TRACER_NAME = "herald"


class _HeadersGetter(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        key = key.lower()
        found = [
            v.decode("utf-8", "replace") if isinstance(v, bytes | bytearray) else str(v)
            for k, v in carrier
            if k.lower() == key and v is not None
        ]
        return found or None

    def keys(self, carrier: Headers) -> list[str]:
        return [k for k, _ in carrier]


class _DictSetter(Setter[dict[str, str]]):
    def set(self, carrier: dict[str, str], key: str, value: str) -> None:
        carrier[key] = value


_GETTER = _HeadersGetter()
_SETTER = _DictSetter()


def extract(headers: Headers | None) -> Context:
    """The context carried by a record's headers (an empty context when there is none)."""
    return propagate.extract(list(headers or ()), getter=_GETTER)


def inject(
    headers: Headers | None = None, context: Context | None = None
) -> list[tuple[str, bytes]]:
    """``headers`` with the trace headers of ``context`` (default: the current one).

    Trace headers already present are replaced, never repeated; other headers are kept in
    order. Without a valid span in the context nothing is added.
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context, setter=_SETTER)
    if not carrier:
        return list(headers or ())
    replaced = {k.lower() for k in carrier}
    kept = [(k, v) for k, v in headers or () if k.lower() not in replaced]
    return kept + [(k, v.encode()) for k, v in carrier.items()]


def tracer() -> trace.Tracer:
    return trace.get_tracer(_TRACER_NAME)


def _messaging(operation: str, topic: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": topic,
        **{k: v for k, v in attributes.items() if v is not None},
    }


@contextmanager
def consume_span(
    topic: str,
    headers: Headers | None,
    *,
    partition: int | None = None,
    offset: int | None = None,
    **attributes: Any,
) -> Iterator[Span]:
    """A CONSUMER span ``process <topic>`` whose parent is the record's context (if any).

    Requests without a context start a new trace here.
    """
    attrs = _messaging("process", topic, attributes)
    if partition is not None:
        attrs["messaging.destination.partition.id"] = str(partition)
    if offset is not None:
        attrs["messaging.kafka.offset"] = offset
    with tracer().start_as_current_span(
        f"process {topic}", context=extract(headers), kind=SpanKind.CONSUMER, attributes=attrs
    ) as span:
        yield span


def traced_job(
    topic: str,
    headers: Headers | None,
    job: Callable[[], Awaitable[None]],
    **attributes: Any,
) -> Callable[[], Awaitable[None]]:
    """``job`` run inside :func:`consume_span` of its record, when it actually runs.

    For work scheduled now and run later (the in-flight scheduler's jobs): the span covers
    the job, not the scheduling, and everything the job produces is its child. With
    ``tenant_id`` and ``notification_id`` the job's span is remembered for the status
    events of that notification (:func:`status_headers`).
    """

    if not tracing_on():
        return job  # tracing off: the job itself, nothing added

    async def run() -> None:
        with consume_span(topic, headers, **attributes) as span:
            remember(attributes.get("tenant_id"), attributes.get("notification_id"), span)
            await job()

    return run


# -- status events: emitted in waves, away from their request's task ----------------------
_MAX_REMEMBERED = 100_000
_remembered: OrderedDict[tuple[str, str], trace.SpanContext] = OrderedDict()


def remember(tenant_id: str | None, notification_id: str | None, span: Span | Context) -> None:
    """Keep the span (or a record's extracted context) a notification's statuses descend from.

    Status events leave in waves produced by whichever task flushes them, so their context
    cannot be the current one. Only recording spans are kept: with tracing off this does
    nothing. Bounded (the oldest are dropped first).
    """
    if tenant_id is None or notification_id is None or not tracing_on():
        return
    ctx = (span if isinstance(span, Span) else trace.get_current_span(span)).get_span_context()
    if not ctx.is_valid:
        return
    key = (tenant_id, notification_id)
    _remembered[key] = ctx
    _remembered.move_to_end(key)
    if len(_remembered) > _MAX_REMEMBERED:
        _remembered.popitem(last=False)


def status_headers(
    topic: str, tenant_id: str, notification_id: str
) -> list[tuple[str, bytes]] | None:
    """Headers for a status event of a remembered notification (a PRODUCER span under it)."""
    if not _remembered:
        return None
    ctx = _remembered.get((tenant_id, notification_id))
    if ctx is None:
        return None
    parent = trace.set_span_in_context(trace.NonRecordingSpan(ctx))
    attrs = _messaging("send", topic, {"tenant_id": tenant_id, "notification_id": notification_id})
    with tracer().start_as_current_span(
        f"send {topic}", context=parent, kind=SpanKind.PRODUCER, attributes=attrs
    ):
        return inject(None)


@contextmanager
def produce_span(
    topic: str, headers: Headers | None = None, **attributes: Any
) -> Iterator[list[tuple[str, bytes]]]:
    """A PRODUCER span ``send <topic>`` under the current context; yields the record's
    headers (``headers`` plus this span's context) to send inside the ``with`` block."""
    if not tracing_on():
        yield list(headers or ())  # tracing off: the headers as they were
        return
    with tracer().start_as_current_span(
        f"send {topic}", kind=SpanKind.PRODUCER, attributes=_messaging("send", topic, attributes)
    ):
        yield inject(headers)


@contextmanager
def work_span(
    name: str,
    headers: Headers | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span for one step of a notification's work (resolving, a WhatsApp Web send...).

    Under the current span; with ``headers``, under the context that record carries
    (work done for a record away from its job, such as the batch path's resolution) or,
    when it carries none, under the current span. Tracing off: no span at all.
    """
    if not tracing_on():
        yield trace.INVALID_SPAN
        return
    context = None
    if headers is not None:
        carried = extract(headers)
        if trace.get_current_span(carried).get_span_context().is_valid:
            context = carried
    attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
    with tracer().start_as_current_span(name, context=context, kind=kind, attributes=attrs) as span:
        yield span


@contextmanager
def batch_span(name: str, records: Iterable[Headers | None], **attributes: Any) -> Iterator[Span]:
    """One span for a batch of records, with a link to each record's context.

    A batch has many parents; OpenTelemetry's messaging conventions link them instead of
    picking one, so that each producer's trace shows the batch that carried its record.
    """
    if not tracing_on():
        yield trace.INVALID_SPAN  # tracing off: no span, no header parsing
        return
    links = []
    for headers in records:
        ctx = trace.get_current_span(extract(headers)).get_span_context()
        if ctx.is_valid:
            links.append(Link(ctx))
    attrs = {k: v for k, v in attributes.items() if v is not None}
    attrs["messaging.batch.message_count"] = attrs.get("messaging.batch.message_count", len(links))
    with tracer().start_as_current_span(
        name, links=links, kind=SpanKind.CONSUMER, attributes=attrs
    ) as span:
        yield span
