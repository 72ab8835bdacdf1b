"""(t) What tracing costs the router: the same burst through a worker with tracing off and on.

* **off**: no ``OTEL_*`` variable, the default: the OpenTelemetry API's no-op tracer, no
  SDK loaded (docs/tracing.md).
* **on**: ``OTEL_EXPORTER_OTLP_ENDPOINT`` set to a collector stub served by the bench
  process (OTLP/HTTP ``POST /v1/traces``, protobuf, answered 200 and counted), every trace
  sampled (the requests carry no ``traceparent``, so each starts one, and the default
  ``parentbased_always_on`` samples it).

Runs alternate (off, on, off, on, each a fresh worker on its own topics) so that a busy
machine's drift touches both alike. The figures: throughput and the worker's CPU per
request (the (b) burst's definitions, docs/performance.md), and the spans exported per
request. Then, in this process, what the hooks a request passes while tracing is off cost
(:func:`hooks_when_off`): the check made once per batch, the job wrapper, the two status
events' header look-ups, the batch span.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from bench.measure import Load, measure
from bench.report import Result, say
from bench.stack import Stack
from streams.platform.embedded import find_free_port

__all__ = ["CollectorStub", "collector_stub", "hooks_when_off", "run"]


@dataclass
class CollectorStub:
    """An OTLP/HTTP trace endpoint that accepts everything and counts the spans."""

    url: str
    requests: int = 0
    spans: int = 0
    bytes: int = 0


@asynccontextmanager
async def collector_stub() -> AsyncIterator[CollectorStub]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    port = find_free_port()
    stub = CollectorStub(url=f"http://127.0.0.1:{port}")
    answer = ExportTraceServiceResponse().SerializeToString()

    async def traces(request: web.Request) -> web.Response:
        body = await request.read()
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        stub.requests += 1
        stub.bytes += len(body)
        stub.spans += sum(
            len(scope.spans) for rs in export.resource_spans for scope in rs.scope_spans
        )
        return web.Response(body=answer, content_type="application/x-protobuf")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield stub
    finally:
        await runner.cleanup()


def hooks_when_off(requests: int = 100_000, batch: int = 500) -> float:
    """Microseconds per request spent in the tracing hooks of the router while tracing is off.

    The calls the batch path makes, with the arguments it makes them with: per batch
    ``batch_span`` and ``tracing_on``; per request ``traced_job`` and, for its ``accepted``
    and ``sent`` events, ``status_headers``. Run in a process without a tracer provider.
    """
    from streams.platform.tracing import batch_span, status_headers, traced_job, tracing_on

    if tracing_on():
        raise RuntimeError("hooks_when_off needs a process where tracing is off")

    async def job() -> None:
        return None

    headers: list[tuple[str, bytes]] = [("x-app", b"1")]
    started = time.thread_time()
    for start in range(0, requests, batch):
        size = min(batch, requests - start)
        with batch_span("schedule requests", (headers for _ in range(size))):
            tracing_on()
            for i in range(size):
                traced_job(
                    "requests",
                    headers,
                    job,
                    partition=i % 8,
                    offset=start + i,
                    tenant_id="acme",
                    notification_id="n",
                )
                status_headers("status", "acme", "n")
                status_headers("status", "acme", "n")
    return (time.thread_time() - started) / requests * 1e6


async def run(stack: Stack, load: Load, rounds: int = 2) -> tuple[list[Result], list[str]]:
    results: list[Result] = []
    notes: list[str] = []
    async with collector_stub() as stub:
        on_env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": stub.url,
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        }
        for round_ in range(1, rounds + 1):
            for mode, env in (("off", None), ("on", on_env)):
                key = f"t-{mode}-{round_}"
                settings = stack.settings(key.replace("-", ""))
                worker = await stack.start_worker(settings, extra_env=env)
                worker.name = "worker"
                spans_before = stub.spans
                try:
                    say(f"({key}) tracing {mode} ...")
                    result = await measure(
                        stack,
                        key=key,
                        title=f"Herald, tracing {mode} (round {round_})",
                        process=worker,
                        requests_topic=settings.topic_requests,
                        status_topic=settings.topic_status,
                        load=load,
                    )
                finally:
                    await stack.stop(worker)  # its exporter flushes what it buffered
                if mode == "on":
                    exported = stub.spans - spans_before
                    warm = load.warmup + load.messages
                    result.notes.append(
                        f"spans received by the collector stub: {exported:,} "
                        f"({exported / warm:.1f} per request, warm-up included)"
                    )
                results.append(result)
    notes += _summary(results)
    cost = await asyncio.to_thread(hooks_when_off)
    notes.append(
        f"(t) tracing hooks of the router while off, in-process: {cost:.2f} µs CPU per request"
    )
    return results, notes


def _summary(results: Sequence[Result]) -> list[str]:
    def mean(mode: str, what: str) -> float:
        chosen = [r for r in results if r.key.startswith(f"t-{mode}-")]
        if what == "throughput":
            return sum(r.throughput for r in chosen) / len(chosen)
        return sum(r.cpu_seconds.get("worker", 0.0) / r.messages * 1e6 for r in chosen) / len(
            chosen
        )

    if not any(r.key.startswith("t-off-") for r in results) or not any(
        r.key.startswith("t-on-") for r in results
    ):
        return []
    off, on = mean("off", "throughput"), mean("on", "throughput")
    cpu_off, cpu_on = mean("off", "cpu"), mean("on", "cpu")
    return [
        f"(t) tracing off: {off:,.0f}/s, {cpu_off:,.0f} µs worker CPU per request; "
        f"on (OTLP to a local stub, every trace sampled): {on:,.0f}/s, {cpu_on:,.0f} µs "
        f"(means of the rounds)"
    ]
