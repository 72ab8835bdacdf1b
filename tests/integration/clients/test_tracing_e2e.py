"""Traces across Kafka, exported to a real OTLP/HTTP receiver started by the test.

A producer process configured only by the standard OTEL_* variables sends a request
with herald_client inside its own span; Herald's side of the trace (the tracing module's
consume/produce spans, as the router uses them) continues it from the record's headers
and produces a status whose headers carry the context on. Every span arrives at the
receiver over OTLP/HTTP in one trace, and the log line carries trace_id/span_id.

Then the same through real workers: the client's send → ``herald worker`` → ``sent``; and
a producer's context → the router → the WhatsApp Web hand-off → ``herald worker
whatsapp`` (headless Chromium, the WhatsApp Web simulator) → ``sent``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from sandbox import serve_app
from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import Settings
from seeds import load_seeds
from tests.helpers import consume_until, produce
from tests.integration.clients.otlp_receiver import ReceivedSpan, otlp_receiver
from tests.integration.conftest import KafkaTopics
from tests.whatsapp_web import ACME_SESSION, seed_integrations

pytestmark = pytest.mark.integration

CLIENT = 3  # opentelemetry.proto.trace.v1.Span.SpanKind
PRODUCER = 4
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


async def run_script(
    script: Path, settings: Settings, env: dict[str, str], seconds: float
) -> bytes:
    """Run the Python ``script`` with the broker's address and the requests and status
    topics as arguments; its output, once it exited 0 within ``seconds``."""
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
    async with asyncio.timeout(seconds):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out


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
        out = await run_script(script, settings, env, 90)

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
        env = {**os.environ, **otel, "OTEL_SERVICE_NAME": "billing-service"}
        out = await run_script(script, settings, env, 120)
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


async def test_one_trace_across_the_whatsapp_web_handoff(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    redis: Redis,
    tmp_path: Path,
) -> None:
    """Producer → router → ``whatsapp.dispatch`` → the WhatsApp worker's send (real
    Chromium, the simulator as WhatsApp Web) → ``sent``, one trace at a real receiver."""
    sim = WhatsAppWebSimulator(qr_interval=60)
    async with serve_app(sim.app, port=0) as url, otlp_receiver() as receiver:
        settings = settings_factory(
            whatsapp_web_url=url,
            wppconnect_enabled=True,
            wppconnect_token_folder=str(tmp_path / "tokens"),
            wppconnect_send_rate=0,
        )
        await seed_integrations(redis, settings, ACME_SESSION)
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        await worker_factory(settings, extra_env=otel)
        await worker_factory(settings, role="whatsapp", extra_env=otel)
        # The producing service's context, as its own SDK would send it.
        trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
        nid = f"n-{secrets.token_hex(4)}"
        request = {
            "id": nid,
            "tenantId": "acme",
            "channel": "whatsapp",
            "recipient": {"phone": "+5511999990001"},
            "content": {"body": "traced"},
        }
        await produce(
            settings,
            settings.topic_requests,
            "acme",
            orjson.dumps(request),
            [("traceparent", f"00-{trace_id}-{parent_id}-01".encode())],
        )
        [qr] = await consume_until(settings, settings.topic_whatsapp_qr, 1, timeout=90)
        await sim.scan(orjson.loads(qr.value)["urlCode"], "5511988887777")

        def sent(records: list[Any]) -> bool:
            return any(orjson.loads(r.value)["status"] == "sent" for r in records)

        statuses = await consume_until(settings, settings.topic_status, sent, timeout=90)
        [handoff] = await consume_until(settings, settings.topic_whatsapp_dispatch, 1)

        def complete(spans: list[ReceivedSpan]) -> bool:
            mine = [s for s in spans if s.trace_id == trace_id]
            return sum(s.name == f"send {settings.topic_status}" for s in mine) >= 2 and any(
                s.name == "send wppconnect" for s in mine
            )

        async with asyncio.timeout(60):
            spans = await receiver.wait_for(complete)
        await sim.close()

    mine = {s.name: s for s in spans if s.trace_id == trace_id}
    receive = mine[f"process {settings.topic_requests}"]
    produce_handoff = mine[f"send {settings.topic_whatsapp_dispatch}"]
    receive_handoff = mine[f"process {settings.topic_whatsapp_dispatch}"]
    send = mine["send wppconnect"]
    assert receive.parent_span_id == parent_id  # the producer's span, across Kafka
    assert (produce_handoff.kind, produce_handoff.parent_span_id) == (PRODUCER, receive.span_id)
    assert (receive_handoff.kind, receive_handoff.parent_span_id) == (
        CONSUMER,
        produce_handoff.span_id,
    )
    assert (send.kind, send.parent_span_id) == (CLIENT, receive_handoff.span_id)
    assert {s.service for s in mine.values()} == {"herald-worker"}  # both workers' default
    # The records carry the context on: the hand-off names its PRODUCER span, the status
    # events their own, in the producer's trace; `sent` descends from the WhatsApp job.
    assert dict(handoff.headers)["traceparent"].decode().split("-")[1:3] == [
        trace_id,
        produce_handoff.span_id,
    ]
    status_spans = {s.span_id: s for s in spans if s.name == f"send {settings.topic_status}"}
    by_status = {}
    for record in statuses:
        _, tid, span_id, _ = dict(record.headers)["traceparent"].decode().split("-")
        assert tid == trace_id
        by_status[orjson.loads(record.value)["status"]] = status_spans[span_id]
    assert by_status["accepted"].parent_span_id == parent_id
    assert by_status["sent"].parent_span_id == receive_handoff.span_id
