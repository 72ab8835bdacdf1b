"""The router agent under ``agent.test_context()``: no broker, a real redis-server, the
WhatsApp Business fake over loopback, and the built-in :class:`MemorySink`."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from sandbox import GRAPH_VERSION, WhatsAppBusinessSandbox, serve_app
from schemas import Status
from seeds import load_seeds
from streams.platform.app import create_app
from streams.platform.sink import MemorySink
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from tests.helpers import make_settings

pytestmark = pytest.mark.redis_cluster

PHONE_NUMBER_ID = "106540352242922"


@dataclass
class Harness:
    agent: Any
    sink: MemorySink
    sandbox: WhatsAppBusinessSandbox

    async def put(self, value: bytes, key: bytes = b"acme") -> None:
        await self.agent.put(key=key, value=value)


@pytest_asyncio.fixture
async def harness(redis_url: str, redis: Redis, test_secret_key: str) -> AsyncIterator[Harness]:
    sandbox = WhatsAppBusinessSandbox()
    async with serve_app(sandbox.app, port=0) as base_url:
        cfg = make_settings(
            redis_url=redis_url,
            secret_key=test_secret_key,
            whatsapp_business_api_url=f"{base_url}/{GRAPH_VERSION}",
        )
        sandbox.add_account(PHONE_NUMBER_ID, access_token="tok", app_secret="sec")
        await load_seeds(redis)
        await IntegrationStore(redis, Cipher.from_settings(cfg)).set(
            "acme",
            "whatsapp-business",
            {
                "phoneNumberId": PHONE_NUMBER_ID,
                "accessToken": "tok",
                "appSecret": "sec",
                "verifyToken": "ver",
            },
            is_default=True,
        )
        sink = MemorySink()
        herald = create_app(cfg, sink=sink)
        agent = herald.app.agents["router"]
        async with agent.test_context() as ctx:
            yield Harness(agent=ctx, sink=sink, sandbox=sandbox)
        await herald.runtime.stop()
        await sandbox.close()


def request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenantId": "acme",
        "channel": "whatsapp",
        "recipient": {"phone": "+5511999990001"},
        "content": {"body": "hi"},
    }
    base.update(overrides)
    return base


async def test_request_flows_to_sent(harness: Harness) -> None:
    req = request()
    await harness.put(orjson.dumps(req))
    async with asyncio.timeout(10):
        events = await harness.sink.wait_for(
            lambda s: [e.status for e in s.of(req["id"])] == [Status.ACCEPTED, Status.SENT]
        )
    assert events
    sent = harness.sink.of(req["id"])[-1]
    assert sent.provider_message_id == harness.sandbox.messages[0].wamid


async def test_mis_keyed_request_is_forwarded_not_processed(harness: Harness) -> None:
    req = request()
    await harness.put(orjson.dumps(req), key=b"other")
    async with asyncio.timeout(10):
        await harness.sink.wait_for(lambda s: s.forwarded)
    record, key = harness.sink.forwarded[0]
    assert key == b"acme"
    assert record.value == orjson.dumps(req)
    assert harness.sink.of(req["id"]) == []


payloads = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.dictionaries(
        st.sampled_from(["id", "tenantId", "channel", "recipient", "content", "provider", "x"]),
        st.one_of(
            st.none(), st.integers(), st.text(max_size=30), st.lists(st.integers(), max_size=3)
        ),
        max_size=7,
    ).map(lambda d: json.dumps(d).encode()),
    st.builds(
        lambda rid, channel, phone, body: json.dumps(
            {
                "id": rid,
                "tenantId": "acme",
                "channel": channel,
                "recipient": {"phone": phone},
                "content": {"body": body},
            }
        ).encode(),
        st.text(min_size=1, max_size=20),
        st.sampled_from(["whatsapp", "sms", "email", "nope"]),
        st.text(max_size=20),
        st.text(max_size=50),
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(payloads, min_size=1, max_size=8))
async def test_any_input_ends_in_dlq_rejected_or_a_terminal_status(
    harness: Harness, batch: list[bytes]
) -> None:
    """Whatever arrives, the agent keeps going and each record gets an outcome."""
    dlq_before = len(harness.sink.dead_letters)
    for value in batch:
        await harness.put(value)
    # A valid request after the batch to the same recipient proves the agent is alive.
    canary = request(id=f"canary-{uuid.uuid4()}")
    await harness.put(orjson.dumps(canary))
    async with asyncio.timeout(20):
        await harness.sink.wait_for(
            lambda s: any(e.status is Status.SENT for e in s.of(canary["id"]))
        )
    terminal = {Status.REJECTED, Status.SENT, Status.FAILED}

    def outcome(sink: MemorySink, value: bytes) -> str | None:
        if any(d.record.value == value for d in sink.dead_letters[dlq_before:]):
            return "dlq"
        if any(record.value == value for record, _ in sink.forwarded):
            return "re-keyed"  # valid, for another tenant: processed from its new key
        try:
            data = json.loads(value)
        except ValueError:
            return None
        rid = data.get("id") if isinstance(data, dict) else None
        if isinstance(rid, str) and any(e.status in terminal for e in sink.of(rid)):
            return "terminal"  # (a repeated id shares the first one's outcome)
        return None

    for value in batch:
        async with asyncio.timeout(20):
            found = await harness.sink.wait_for(lambda s, v=value: outcome(s, v))
        assert found in {"dlq", "re-keyed", "terminal"}
