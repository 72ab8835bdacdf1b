"""bench/tracing_cost.py: the collector stub speaks OTLP/HTTP to the SDK's own exporter."""

from __future__ import annotations

import asyncio

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bench.report import Result
from bench.tracing_cost import _summary, collector_stub


async def test_the_stub_accepts_the_sdks_export_and_counts_its_spans() -> None:
    provider = TracerProvider()  # its own, not the process's global one
    kept = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracer = provider.get_tracer("bench-test")
    with tracer.start_as_current_span("process requests"):
        for name in ("resolve", "send status"):
            with tracer.start_as_current_span(name):
                pass
    spans = kept.get_finished_spans()
    async with collector_stub() as stub:
        exporter = OTLPSpanExporter(endpoint=f"{stub.url}/v1/traces")
        result = await asyncio.to_thread(exporter.export, spans)
        exporter.shutdown()
    assert result is SpanExportResult.SUCCESS
    assert (stub.requests, stub.spans) == (1, 3)
    assert stub.bytes > 0


def test_summary_compares_the_means_of_the_rounds() -> None:
    def run(key: str, seconds: float, cpu: float) -> Result:
        return Result(
            key=key, title=key, messages=1000, seconds=seconds, cpu_seconds={"worker": cpu}
        )

    results = [run("t-off-1", 1.0, 0.8), run("t-on-1", 2.0, 1.2), run("t-off-2", 1.0, 1.0)]
    results.append(run("t-on-2", 1.0, 1.0))
    [line] = _summary(results)
    assert line.startswith("(t) tracing off: 1,000/s, 900 µs worker CPU per request; ")
    assert "750/s, 1,100 µs" in line
    assert _summary(results[:1]) == []
