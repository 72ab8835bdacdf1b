"""The batch-path tests' rig: a real redis-server, the WhatsApp Business fake over loopback,
a runtime with a :class:`MemorySink`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest_asyncio
from redis.asyncio import Redis

from sandbox import GRAPH_VERSION, WhatsAppBusinessSandbox, serve_app
from streams.pipeline.decode import RawRecord
from streams.platform.app import create_app
from streams.platform.runtime import Runtime
from streams.platform.sink import MemorySink
from tests.helpers import make_settings
from tests.integration.business_tenants import seed_business_tenants

TENANTS = ("acme", "globex")


@dataclass
class Rig:
    runtime: Runtime
    sink: MemorySink
    sandbox: WhatsAppBusinessSandbox
    redis: Redis
    offset: int = 0
    acked: list[int] = field(default_factory=list)

    def record(self, body: dict[str, Any], *, offset: int | None = None) -> RawRecord:
        if offset is None:
            offset = self.offset
            self.offset += 1
        value = orjson.dumps(body)
        if b'"__deep__' in value:  # deeper than orjson writes (254 levels): spliced in as text
            depth = int(value.split(b'"__deep__', 1)[1].split(b'"', 1)[0])
            value = value.replace(b'"__deep__%d"' % depth, deep_json(depth))
        return RawRecord(
            key=body["tenantId"].encode(),
            value=value,
            topic="notifications.requests",
            partition=0,
            offset=offset,
        )

    async def route(self, records: list[RawRecord]) -> None:
        """Route one batch and wait until every record was acknowledged."""
        finished = asyncio.Event()
        want = len(self.acked) + len(records)

        def done_for(offset: int) -> Callable[[], Awaitable[None]]:
            async def done() -> None:
                self.acked.append(offset)
                if len(self.acked) >= want:
                    finished.set()

            return done

        await self.runtime.batch_router.route([(r, done_for(r.offset)) for r in records])
        async with asyncio.timeout(20):
            await finished.wait()


def request(tenant: str = "acme", phone: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "tenantId": tenant,
        "channel": "whatsapp",
        "recipient": {"phone": phone or f"+55119{uuid.uuid4().int % 10**8:08d}"},
        "content": {"body": "hi"},
        **extra,
    }


@pytest_asyncio.fixture
async def rig(
    redis_url: str, redis: Redis, test_secret_key: str
) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    sandbox = WhatsAppBusinessSandbox()
    runtimes: list[Runtime] = []
    async with serve_app(sandbox.app, port=0) as base_url:

        async def make(max_record_bytes: int | None = None, **overrides: Any) -> Rig:
            cfg = make_settings(
                redis_url=redis_url,
                secret_key=test_secret_key,
                whatsapp_business_api_url=f"{base_url}/{GRAPH_VERSION}",
                **overrides,
            )
            await seed_business_tenants(
                redis, cfg, sandbox, TENANTS, "20654035224292", lambda tenant: "ver"
            )
            sink = MemorySink(max_record_bytes=max_record_bytes)
            runtime = create_app(cfg, sink=sink).runtime
            await runtime.start()
            runtimes.append(runtime)
            return Rig(runtime=runtime, sink=sink, sandbox=sandbox, redis=redis)

        yield make
        for runtime in runtimes:
            await runtime.stop()
    await sandbox.close()


def deep_json(depth: int) -> bytes:
    """``depth`` levels of alternating arrays and objects around a number."""
    opening = "".join('{"k":' if i % 2 else "[" for i in range(depth))
    closing = "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    return f"{opening}1{closing}".encode()
