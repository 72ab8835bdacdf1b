"""Traces across Kafka, exported to a real OTLP/HTTP receiver started by the test.

A producer process configured only by the standard OTEL_* variables sends a request
with herald_client inside its own span; Herald's side of the trace (the tracing module's
consume/produce spans, as the router uses them) continues it from the record's headers
and produces a status whose headers carry the context on. Every span arrives at the
receiver over OTLP/HTTP in one trace, and the log line carries trace_id/span_id.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from schemas import Settings
from seeds import load_seeds
from tests.helpers import consume_until
from tests.integration.clients.otlp_receiver import ReceivedSpan, otlp_receiver
from tests.integration.conftest import KafkaTopics

pytestmark = pytest.mark.integration

PRODUCER = 4  # opentelemetry.proto.trace.v1.Span.SpanKind
CONSUMER = 5

SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, sys
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from opentelemetry import trace
    from herald_client import HeraldClient
    from streams.platform.logging import JsonFormatter
    from streams.platform.tracing import (
        configure_tracing, consume_span, produce_span, shutdown_tracing,
    )

    async def main(bootstrap, requests, status):
        assert configure_tracing("herald-router"), "OTEL_EXPORTER_OTLP_ENDPOINT is set"
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        logging.getLogger("herald").addHandler(handler)
        logging.getLogger("herald").setLevel(logging.INFO)
        async with HeraldClient(
            bootstrap, requests_topic=requests, status_topic=status, follow_status=False
        ) as client:
            with trace.get_tracer("billing").start_as_current_span("checkout"):
                await client.send({"id": "n-traced", "tenantId": "acme", "channel": "sms",
                                   "recipient": {"phone": "+15550100"}})
        consumer = AIOKafkaConsumer(requests, bootstrap_servers=bootstrap, group_id=None,
                                    auto_offset_reset="earliest")
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await consumer.start()
        await producer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), 30)
            with consume_span(requests, record.headers, partition=record.partition,
                              offset=record.offset, tenant_id="acme"):
                logging.getLogger("herald.router").info("routing",
                                                        extra={"notification_id": "n-traced"})
                with produce_span(status, tenant_id="acme") as headers:
                    await producer.send_and_wait(status, b'{"status": "sent"}', key=b"acme",
                                                 headers=headers)
        finally:
            await consumer.stop()
            await producer.stop()
        shutdown_tracing()

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_one_trace_from_the_producers_send_to_the_status_record(
    settings_factory: Callable[..., Settings], kafka_topics: KafkaTopics, tmp_path: Path
) -> None:
    settings = await kafka_topics(settings_factory())
    script = tmp_path / "traced.py"
    script.write_text(SCRIPT)
    async with otlp_receiver() as receiver:
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "billing-service",
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            settings.kafka_bootstrap_servers,
            settings.topic_requests,
            settings.topic_status,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(90):
            out, err = await process.communicate()
        assert process.returncode == 0, err.decode()

        def complete(spans: list[ReceivedSpan]) -> bool:
            return {"checkout", f"send {settings.topic_status}"} <= {s.name for s in spans}

        async with asyncio.timeout(30):
            spans = await receiver.wait_for(complete)

    named = {s.name: s for s in spans}
    root = named["checkout"]
    sent = named[f"send {settings.topic_requests}"]
    processed = named[f"process {settings.topic_requests}"]
    produced = named[f"send {settings.topic_status}"]
    assert {s.trace_id for s in (root, sent, processed, produced)} == {root.trace_id}
    assert root.parent_span_id == ""
    assert sent.parent_span_id == root.span_id  # the client's span, under the caller's
    assert processed.parent_span_id == sent.span_id  # continued across Kafka
    assert produced.parent_span_id == processed.span_id
    assert (sent.kind, processed.kind, produced.kind) == (PRODUCER, CONSUMER, PRODUCER)
    assert sent.attributes["messaging.system"] == "kafka"
    assert sent.attributes["messaging.destination.name"] == settings.topic_requests
    assert sent.attributes["messaging.kafka.message.key"] == "acme"
    assert {s.service for s in spans} == {"billing-service"}  # OTEL_SERVICE_NAME wins

    # The status record carries the context on; the log line names the span.
    [status] = await consume_until(settings, settings.topic_status, 1)
    headers = dict(status.headers)
    version, trace_id, parent_id, flags = headers["traceparent"].decode().split("-")
    assert (version, trace_id, parent_id) == ("00", root.trace_id, produced.span_id)
    assert int(flags, 16) & 0x01  # sampled (0x02, "random trace id", may be set too)
    [line] = [orjson.loads(x) for x in out.splitlines() if b'"routing"' in x]
    assert (line["trace_id"], line["span_id"]) == (root.trace_id, processed.span_id)
    assert line["notification_id"] == "n-traced"


CLIENT_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from opentelemetry import trace
    from herald_client import HeraldClient
    from streams.platform.tracing import configure_tracing, shutdown_tracing

    async def main(bootstrap, requests, status):
        assert configure_tracing("billing")
        async with HeraldClient(bootstrap, requests_topic=requests, status_topic=status) as client:
            with trace.get_tracer("billing").start_as_current_span("checkout") as root:
                handle = await client.send({
                    "id": "n-traced", "tenantId": "acme", "channel": "database",
                    "recipient": {"userId": "u1"}, "content": {"body": "hello"}})
            await handle.wait("sent", timeout=60)
            print(format(root.get_span_context().trace_id, "032x"))
        shutdown_tracing()

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_one_trace_from_the_clients_send_through_a_worker_to_sent(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    redis: Redis,
    tmp_path: Path,
) -> None:
    settings = settings_factory()
    await load_seeds(redis)
    script = tmp_path / "client.py"
    script.write_text(CLIENT_SCRIPT)
    async with otlp_receiver() as receiver:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        await worker_factory(settings, extra_env=otel)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            settings.kafka_bootstrap_servers,
            settings.topic_requests,
            settings.topic_status,
            env={**os.environ, **otel, "OTEL_SERVICE_NAME": "billing-service"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(120):
            out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        trace_id = out.decode().strip().splitlines()[-1]
        status_spans = f"send {settings.topic_status}"

        def complete(spans: list[ReceivedSpan]) -> bool:
            mine = [s for s in spans if s.trace_id == trace_id]
            return sum(s.name == status_spans for s in mine) >= 2  # accepted and sent

        async with asyncio.timeout(60):
            spans = await receiver.wait_for(complete)

    in_trace = [s for s in spans if s.trace_id == trace_id]
    send = next(s for s in in_trace if s.name == f"send {settings.topic_requests}")
    assert send.service == "billing-service"
    [job] = [s for s in in_trace if s.name == f"process {settings.topic_requests}"]
    assert job.service == "herald-worker"  # the worker's default service name
    assert job.kind == CONSUMER
    assert job.parent_span_id == send.span_id  # continued across Kafka
    assert job.attributes["tenant_id"] == "acme"
    statuses = [s for s in in_trace if s.name == status_spans]
    assert {s.kind for s in statuses} == {PRODUCER}
    assert job.span_id in {s.parent_span_id for s in statuses}  # `sent`, from the job
    # The batch span links the record's context instead of adopting it as parent.
    batches = [s for s in spans if s.name == f"schedule {settings.topic_requests}"]
    assert any((trace_id, send.span_id) in b.links for b in batches)
    # The status records carry the trace on.
    records = await consume_until(settings, settings.topic_status, 2)
    carried = {dict(r.headers)["traceparent"].decode().split("-")[1] for r in records}
    assert carried == {trace_id}
