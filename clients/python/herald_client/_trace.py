"""OpenTelemetry on send, when ``opentelemetry-api`` is installed (extra ``otel``).

``send`` opens a PRODUCER span named ``send <topic>`` (messaging semantic conventions)
and writes the W3C context (``traceparent``, ``tracestate``) into the record's headers
through the globally configured propagator, so Herald continues the caller's trace.
Without the package, or without a configured SDK, this costs nothing and adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["producer_span"]

try:
    from opentelemetry import propagate, trace
except ImportError:  # pragma: no cover - exercised by the "installed alone" test
    propagate = None  # type: ignore[assignment]
    trace = None  # type: ignore[assignment]


@contextmanager
def producer_span(
    topic: str, tenant_id: str, notification_id: str
) -> Iterator[list[tuple[str, bytes]]]:
    """Yields the headers to send (empty without OpenTelemetry)."""
    if trace is None or propagate is None:
        yield []
        return
    tracer = trace.get_tracer("herald_client")
    attributes = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": topic,
        "messaging.kafka.message.key": tenant_id,
        "messaging.message.id": notification_id,
        "herald.tenant_id": tenant_id,
        "herald.notification_id": notification_id,
    }
    with tracer.start_as_current_span(
        f"send {topic}", kind=trace.SpanKind.PRODUCER, attributes=attributes
    ):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield [(key, value.encode()) for key, value in carrier.items()]
