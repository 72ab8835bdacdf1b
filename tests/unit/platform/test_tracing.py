"""streams.platform.tracing: W3C context through Kafka headers, spans, log correlation."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap

import httpx
import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from streams.platform.logging import JsonFormatter
from streams.platform.tracing import (
    batch_span,
    consume_span,
    extract,
    inject,
    install_log_correlation,
    instrument_http_client,
    produce_span,
    traced_job,
    tracing_requested,
    work_span,
)
from tests.spans import by_name as spans_by_name

# The example of the W3C Trace Context recommendation (section 3.2.2 / 3.3.1).
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PARENT_ID = 0x00F067AA0BA902B7
TRACESTATE = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"


def by_name(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    return spans_by_name(exporter.get_finished_spans(), name)


def test_extract_reads_the_w3c_example() -> None:
    ctx = trace.get_current_span(
        extract([("traceparent", TRACEPARENT.encode()), ("tracestate", TRACESTATE.encode())])
    ).get_span_context()
    assert (ctx.trace_id, ctx.span_id, ctx.trace_flags.sampled) == (TRACE_ID, PARENT_ID, True)
    assert ctx.is_remote
    assert ctx.trace_state.to_header() == TRACESTATE


@pytest.mark.parametrize(
    "value",
    [
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is invalid
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # uppercase
        "garbage",
    ],
)
def test_invalid_traceparent_starts_a_new_trace(value: str, spans: InMemorySpanExporter) -> None:
    with consume_span("requests", [("traceparent", value.encode())]) as span:
        ctx = span.get_span_context()
    assert ctx.is_valid
    assert ctx.trace_id != TRACE_ID
    assert by_name(spans, "process requests").parent is None


def test_consume_then_produce_continues_the_producers_trace(
    spans: InMemorySpanExporter,
) -> None:
    incoming = [("x-app", b"1"), ("traceparent", TRACEPARENT.encode())]
    with (
        consume_span("requests", incoming, partition=3, offset=42, tenant_id="acme") as span,
        produce_span("status", [("traceparent", b"stale"), ("x-app", b"2")]) as headers,
    ):
        consumer_id = span.get_span_context().span_id
    consumed = by_name(spans, "process requests")
    produced = by_name(spans, "send status")
    assert consumed.kind == SpanKind.CONSUMER
    assert consumed.parent is not None
    assert (consumed.parent.trace_id, consumed.parent.span_id) == (TRACE_ID, PARENT_ID)
    assert consumed.attributes is not None
    assert consumed.attributes["messaging.destination.name"] == "requests"
    assert consumed.attributes["messaging.kafka.offset"] == 42
    assert consumed.attributes["tenant_id"] == "acme"
    assert produced.kind == SpanKind.PRODUCER
    assert produced.parent is not None
    assert produced.parent.span_id == consumer_id
    # The record carries the producer span's context; the stale header is replaced.
    names = [k for k, _ in headers]
    assert names.count("traceparent") == 1
    assert ("x-app", b"2") in headers
    value = dict(headers)["traceparent"].decode()
    assert value == f"00-{TRACE_ID:032x}-{produced.context.span_id:016x}-01"


def test_batch_span_links_every_records_context(spans: InMemorySpanExporter) -> None:
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    records = [[("traceparent", TRACEPARENT.encode())], [("traceparent", other.encode())], []]
    with batch_span("process requests batch", records):
        pass
    span = by_name(spans, "process requests batch")
    assert span.parent is None  # many parents: linked, not flattened into one
    linked = {(link.context.trace_id, link.context.span_id) for link in span.links}
    assert linked == {
        (TRACE_ID, PARENT_ID),
        (0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331),
    }
    assert span.attributes is not None
    assert span.attributes["messaging.batch.message_count"] == 2


def test_work_span_parent_is_the_records_context_else_the_current_span(
    spans: InMemorySpanExporter,
) -> None:
    record = [("traceparent", TRACEPARENT.encode())]
    with consume_span("batch", None) as current:
        with work_span("resolve", record, attributes={"tenant_id": "acme", "unset": None}):
            pass
        with work_span("resolve-plain", [("x-app", b"1")]):
            pass
        with work_span("send wppconnect", kind=SpanKind.CLIENT):
            pass
    resolve = by_name(spans, "resolve")
    assert resolve.parent is not None
    assert (resolve.parent.trace_id, resolve.parent.span_id) == (TRACE_ID, PARENT_ID)
    assert dict(resolve.attributes or {}) == {"tenant_id": "acme"}  # None values left out
    for name in ("resolve-plain", "send wppconnect"):  # no context carried: the current span
        assert by_name(spans, name).parent.span_id == current.get_span_context().span_id  # type: ignore[union-attr]
    assert by_name(spans, "send wppconnect").kind == SpanKind.CLIENT


def test_no_span_no_header() -> None:
    assert inject([("x-app", b"1")]) == [("x-app", b"1")]
    assert inject(None) == []


def test_log_records_carry_trace_and_span_ids(spans: InMemorySpanExporter) -> None:
    install_log_correlation()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("herald.test.tracing")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        with consume_span("requests", [("traceparent", TRACEPARENT.encode())]) as span:
            log.info("routing", extra={"tenant_id": "acme"})
        log.info("outside")
    finally:
        log.removeHandler(handler)
    inside, outside = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert inside["trace_id"] == f"{TRACE_ID:032x}"
    assert inside["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert inside["tenant_id"] == "acme"
    assert "trace_id" not in outside


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_SERVICE_NAME": "herald"}, False),
    ],
)
def test_tracing_requested_by_the_standard_variables(env: dict[str, str], expected: bool) -> None:
    assert tracing_requested(env) is expected


async def test_provider_calls_get_http_client_spans(spans: InMemorySpanExporter) -> None:
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, headers={"X-Message-Id": "m1"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        assert instrument_http_client(client)
        with consume_span("requests", [("traceparent", TRACEPARENT.encode())]):
            response = await client.post("https://api.sendgrid.test/v3/mail/send", json={})
    assert response.status_code == 202
    [call] = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert call.name == "POST"
    assert call.attributes is not None
    assert call.attributes["http.request.method"] == "POST"
    assert call.attributes["url.full"] == "https://api.sendgrid.test/v3/mail/send"
    assert call.attributes["http.response.status_code"] == 202
    assert call.parent is not None
    assert call.context.trace_id == TRACE_ID
    # The provider sees the call's own context.
    sent = seen[0].headers["traceparent"]
    assert sent.startswith(f"00-{TRACE_ID:032x}-{call.context.span_id:016x}-")


async def test_traced_job_spans_the_job_not_its_scheduling(spans: InMemorySpanExporter) -> None:
    ran: list[int] = []

    async def job() -> None:
        ran.append(trace.get_current_span().get_span_context().trace_id)
        with produce_span("status", tenant_id="acme"):
            pass

    scheduled = traced_job("requests", [("traceparent", TRACEPARENT.encode())], job, offset=7)
    assert spans.get_finished_spans() == ()  # nothing happens until it runs
    await scheduled()
    assert ran == [TRACE_ID]
    job_span = by_name(spans, "process requests")
    assert by_name(spans, "send status").parent.span_id == job_span.context.span_id  # type: ignore[union-attr]


def test_off_means_nothing_added() -> None:
    """Without OTEL_* and an SDK, jobs run unwrapped and records keep their headers."""
    script = textwrap.dedent(
        """
        import asyncio
        from streams.platform.tracing import (
            batch_span, configure_tracing, instrument_http_client, produce_span, traced_job,
            work_span,
        )

        async def job() -> None: ...

        assert configure_tracing("herald-test") is False
        assert traced_job("t", [("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")], job) is job
        with produce_span("t", [("x", b"1")]) as headers:
            assert headers == [("x", b"1")], headers
        with produce_span("t") as headers:
            assert headers == [], headers
        with batch_span("b", [[("traceparent", b"garbage")]]) as span:
            assert not span.is_recording()
        with work_span("resolve", [("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")]) as span:
            assert not span.is_recording()
        assert instrument_http_client(object()) is False
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
