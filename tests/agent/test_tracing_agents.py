"""One trace through the agents: the WhatsApp Web hand-off and a retry on a delay topic.

The router, retry and WhatsApp dispatch agents under ``agent.test_context()`` (no broker),
a real redis-server, the real :class:`FaustSink` over a recording wire (tests/spans.py:
every record Herald would produce, with its headers), and spans in memory. A producer's
span starts each trace; the record Herald produces to the next hop (hand-off, retry) is
fed to the next agent with the headers it was produced with, as the broker would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from redis.asyncio import Redis

from sandbox import GRAPH_VERSION, WhatsAppBusinessSandbox, serve_app
from schemas import Settings, StatusEvent
from seeds import load_seeds
from streams.platform.app import create_app
from streams.platform.sink import FaustSink
from streams.platform.tracing import produce_span
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from streams.whatsapp import MemoryWhatsAppSink
from tests.spans import Produced, RecordingWire, by_name, traceparent_of, wait_spans
from tests.unit.whatsapp.fakes import FakeWhatsApp
from tests.whatsapp_web import wppconnect_settings

PHONE_NUMBER_ID = "106540352242922"
PHONE = "+5511999990001"


@dataclass
class World:
    settings: Settings
    redis: Redis
    wire: RecordingWire

    async def integration(self, provider: str, credentials: dict[str, Any]) -> None:
        store = IntegrationStore(self.redis, Cipher.from_settings(self.settings))
        await store.set("acme", provider, credentials, is_default=True)

    def status(self, nid: str, status: str) -> Produced | None:
        """The status record of ``nid`` with ``status``, if produced."""
        found = [r for r in self.wire.on(self.settings.topic_status) if _is(r, nid, status)]
        return found[0] if found else None

    async def until_status(self, nid: str, status: str) -> Produced:
        async with asyncio.timeout(15):
            return await self.wire.wait_for(
                self.settings.topic_status, lambda r: _is(r, nid, status)
            )


def _is(record: Produced, nid: str, status: str) -> bool:
    event = StatusEvent.model_validate_json(record.value or b"")
    return event.notification_id == nid and event.status == status


@pytest_asyncio.fixture
async def world(
    redis_url: str, redis: Redis, test_secret_key: str, tmp_path: Path
) -> AsyncIterator[World]:
    cfg = wppconnect_settings(
        tmp_path,
        redis_url=redis_url,
        secret_key=test_secret_key,
        retry_tiers="1",
        retry_base_delay_seconds=0.05,
        retry_max_delay_seconds=0.1,
    )
    await load_seeds(redis)
    yield World(cfg, redis, RecordingWire(cfg))


def producer_send(topic: str) -> tuple[list[tuple[str, bytes]], ReadableSpan | Any]:
    """What a producing service does: its own span, then a record carrying its context."""
    with (
        trace.get_tracer("billing").start_as_current_span("checkout") as root,
        produce_span(topic, tenant_id="acme") as headers,
    ):
        pass
    return headers, root


def request(**fields: Any) -> dict[str, Any]:
    return {
        "id": f"n-{uuid.uuid4()}",
        "tenantId": "acme",
        "channel": "whatsapp",
        "recipient": {"phone": PHONE},
        "content": {"body": "hi"},
        **fields,
    }


def in_trace(spans: Sequence[ReadableSpan], trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans if s.context.trace_id == trace_id]


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


def carries(record: Produced, span: ReadableSpan) -> bool:
    """The record's ``traceparent`` names ``span`` (its trace and its id)."""
    return traceparent_of(record) == (span.context.trace_id, span.context.span_id)


async def test_a_trace_through_the_whatsapp_web_handoff(
    world: World, spans: InMemorySpanExporter
) -> None:
    cfg, wire = world.settings, world.wire
    await world.integration("wppconnect", {"sessionName": "s", "phoneNumberId": "p"})
    headers, root = producer_send(cfg.topic_requests)
    req = request(provider="wppconnect")

    router = create_app(cfg, sink=FaustSink(wire.topics()))
    async with router.app.agents["router"].test_context() as agent:
        await agent.put(key=b"acme", value=orjson.dumps(req), headers=headers)
        async with asyncio.timeout(15):
            handoff = await wire.wait_for(cfg.topic_whatsapp_dispatch, lambda r: True)
    await router.runtime.stop()
    accepted = world.status(req["id"], "accepted")
    assert accepted is not None

    fake = FakeWhatsApp()
    worker = create_app(cfg, "whatsapp", sink=FaustSink(wire.topics()))
    runtime: Any = worker.runtime
    runtime.driver_factory = fake.factory
    qrs = runtime.whatsapp_sink_override = MemoryWhatsAppSink()
    async with worker.app.agents["whatsapp-dispatch"].test_context() as dispatch:
        # The hand-off record as the broker delivers it: its value and its headers.
        await dispatch.put(key=handoff.key, value=handoff.value, headers=handoff.headers)
        async with asyncio.timeout(15):
            await qrs.wait_for(lambda w: w.qrs)
        fake.latest("acme").scan()
        sent = await world.until_status(req["id"], "sent")
        dispatch_job = f"process {cfg.topic_whatsapp_dispatch}"
        async with asyncio.timeout(15):
            finished = await wait_spans(spans, lambda s: any(x.name == dispatch_job for x in s))
    await runtime.stop()

    trace_id = root.context.trace_id
    mine = in_trace(finished, trace_id)
    producer = by_name(mine, f"send {cfg.topic_requests}")
    receive = by_name(mine, f"process {cfg.topic_requests}")
    produce_handoff = by_name(mine, f"send {cfg.topic_whatsapp_dispatch}")
    receive_handoff = by_name(mine, dispatch_job)
    send = by_name(mine, "send wppconnect")
    resolves = [s for s in mine if s.name == "resolve"]
    status_spans = [s for s in mine if s.name == f"send {cfg.topic_status}"]

    # Receiving continues the producer's span; the router's resolution is a child of the
    # record's context (it runs for the batch, before the record's job), the worker's is
    # part of its job.
    assert child_of(producer, root)
    assert receive.kind == SpanKind.CONSUMER
    assert child_of(receive, producer)
    assert {(s.parent.span_id if s.parent else None) for s in resolves} == {
        producer.context.span_id,
        receive_handoff.context.span_id,
    }
    assert all(s.attributes and s.attributes["herald.provider"] == "wppconnect" for s in resolves)
    # The hand-off: produced in the job, its record carries that span, the WhatsApp
    # worker's job continues it, and the send into the session's page is its child.
    assert produce_handoff.kind == SpanKind.PRODUCER
    assert child_of(produce_handoff, receive)
    assert carries(handoff, produce_handoff)
    assert receive_handoff.kind == SpanKind.CONSUMER
    assert child_of(receive_handoff, produce_handoff)
    assert send.kind == SpanKind.CLIENT
    assert child_of(send, receive_handoff)
    assert send.attributes is not None
    assert (
        send.attributes["herald.provider_message_id"]
        == orjson.loads(sent.value or b"")["providerMessageId"]
    )
    # Status events: `accepted` under the producer's span (it leaves before the job
    # starts), `sent` under the WhatsApp worker's job; each record carries its span.
    [accepted_span] = [s for s in status_spans if carries(accepted, s)]
    [sent_span] = [s for s in status_spans if carries(sent, s)]
    assert child_of(accepted_span, producer)
    assert child_of(sent_span, receive_handoff)
    assert {s.kind for s in status_spans} == {SpanKind.PRODUCER}
    # The router's batch span links the record's context rather than adopting it.
    batch = by_name(finished, f"schedule {cfg.topic_requests}")
    assert batch.parent is None
    assert (trace_id, producer.context.span_id) in {
        (link.context.trace_id, link.context.span_id) for link in batch.links
    }


async def test_a_retry_stays_in_the_requests_trace(
    world: World, spans: InMemorySpanExporter
) -> None:
    cfg, wire = world.settings, world.wire
    sandbox = WhatsAppBusinessSandbox()
    sandbox.add_account(PHONE_NUMBER_ID, access_token="tok", app_secret="sec")
    # The first call: "service temporarily unavailable" (retryable); then accepted.
    sandbox.fail(PHONE, 131016, http_status=503, times=1)
    [retry_topic] = cfg.retry_topics.values()
    async with serve_app(sandbox.app, port=0) as base_url:
        cfg = cfg.model_copy(update={"whatsapp_business_api_url": f"{base_url}/{GRAPH_VERSION}"})
        await world.integration(
            "whatsapp-business",
            {
                "phoneNumberId": PHONE_NUMBER_ID,
                "accessToken": "tok",
                "appSecret": "sec",
                "verifyToken": "v",
            },
        )
        headers, root = producer_send(cfg.topic_requests)
        req = request()
        herald = create_app(cfg, sink=FaustSink(wire.topics()))
        async with (
            herald.app.agents["router"].test_context() as router,
            herald.app.agents[f"retry:{retry_topic}"].test_context() as retries,
        ):
            await router.put(key=b"acme", value=orjson.dumps(req), headers=headers)
            async with asyncio.timeout(15):
                delayed = await wire.wait_for(retry_topic, lambda r: True)
            await world.until_status(req["id"], "retrying")
            # The delay topic's record, delivered with its headers.
            await retries.put(key=delayed.key, value=delayed.value, headers=delayed.headers)
            sent = await world.until_status(req["id"], "sent")
            retry_job = f"process {retry_topic}"
            async with asyncio.timeout(15):
                finished = await wait_spans(spans, lambda s: any(x.name == retry_job for x in s))
        await herald.runtime.stop()
        await sandbox.close()
    assert len(sandbox.messages) == 1

    mine = in_trace(finished, root.context.trace_id)
    producer = by_name(mine, f"send {cfg.topic_requests}")
    first_job = by_name(mine, f"process {cfg.topic_requests}")
    produce_retry = by_name(mine, f"send {retry_topic}")
    retry_job_span = by_name(mine, retry_job)
    calls = sorted((s for s in mine if s.kind == SpanKind.CLIENT), key=lambda s: s.start_time or 0)
    status_spans = [s for s in mine if s.name == f"send {cfg.topic_status}"]

    assert child_of(first_job, producer)
    # Two provider calls, HTTP CLIENT spans: the failed one in the first job...
    assert [c.attributes["http.response.status_code"] for c in calls if c.attributes] == [503, 200]
    assert child_of(calls[0], first_job)
    assert calls[0].status.status_code == StatusCode.ERROR
    # ... the retry record produced from it, carrying its span ...
    assert produce_retry.kind == SpanKind.PRODUCER
    assert child_of(produce_retry, first_job)
    assert carries(delayed, produce_retry)
    # ... continued when it comes due, and the second call is the retry job's child.
    assert retry_job_span.kind == SpanKind.CONSUMER
    assert child_of(retry_job_span, produce_retry)
    assert retry_job_span.attributes is not None
    assert retry_job_span.attributes["herald.attempt"] == 2
    assert retry_job_span.attributes["herald.provider"] == "whatsapp-business"
    assert child_of(calls[1], retry_job_span)
    # `retrying` leaves from the first job, `sent` from the retry's; both carry their span.
    retrying = world.status(req["id"], "retrying")
    assert retrying is not None
    [retrying_span] = [s for s in status_spans if carries(retrying, s)]
    [sent_span] = [s for s in status_spans if carries(sent, s)]
    assert child_of(retrying_span, first_job)
    assert child_of(sent_span, retry_job_span)


async def test_dead_letters_rejections_and_rekeyed_copies_continue_the_trace(
    world: World, spans: InMemorySpanExporter
) -> None:
    """What the router produces for a record it cannot route carries the producer's trace."""
    cfg, wire = world.settings, world.wire
    undecodable = b"\xff not json"
    invalid = {"id": f"n-{uuid.uuid4()}", "tenantId": "acme", "channel": "pigeon"}
    mis_keyed = request()
    roots = {}
    herald = create_app(cfg, sink=FaustSink(wire.topics()))
    async with herald.app.agents["router"].test_context() as router:
        for name, key, value in (
            ("dlq", b"acme", undecodable),
            ("invalid", b"acme", orjson.dumps(invalid)),
            ("mis-keyed", b"other", orjson.dumps(mis_keyed)),
        ):
            headers, roots[name] = producer_send(cfg.topic_requests)
            await router.put(key=key, value=value, headers=headers)
        async with asyncio.timeout(15):
            letter = await wire.wait_for(cfg.topic_dlq, lambda r: r.value == undecodable)
            rejected = await world.until_status(invalid["id"], "rejected")
            copy = await wire.wait_for(cfg.topic_requests, lambda r: r.key == b"acme")
            finished = await wait_spans(
                spans, lambda s: sum(x.name == f"process {cfg.topic_requests}" for x in s) == 3
            )
    await herald.runtime.stop()

    for name, record, topic in (
        ("dlq", letter, cfg.topic_dlq),
        ("invalid", rejected, cfg.topic_status),
        ("mis-keyed", copy, cfg.topic_requests),
    ):
        mine = in_trace(finished, roots[name].context.trace_id)
        [producer] = [s for s in mine if child_of(s, roots[name])]
        job = by_name(mine, f"process {cfg.topic_requests}")
        [produced] = [s for s in mine if s.name == f"send {topic}" and s is not producer]
        assert producer.name == f"send {cfg.topic_requests}"
        assert child_of(job, producer), name
        assert child_of(produced, job), name
        assert carries(record, produced), name
        # One traceparent: the producer's header was replaced, not repeated.
        assert [k for k, _ in record.headers].count("traceparent") == 1, name
    # The dead letter keeps its other headers: why it is a dead letter.
    assert any(k.startswith("herald-dlq-") for k, _ in letter.headers)
