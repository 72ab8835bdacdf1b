"""(m) What one operation of each client library costs here, in CPU microseconds.

The router's per-request work is a few Redis commands, one provider HTTP call and two
Kafka produces; these figures say what each costs on this machine, in this process,
whatever Herald does around them:

* a provider call with httpx (what providers receive) and with aiohttp, against the
  Graph API sandbox, at 1, 64 and 256 calls in flight;
* a Redis command and a MULTI pipeline with redis-py's asyncio client;
* a produce request and an offset commit, as CPU of the broker (tansu).
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.asyncio import BlockingConnectionPool, Redis

from bench.procstats import cpu_seconds
from bench.stack import ACCESS_TOKEN, PHONE_NUMBER_ID, Stack
from sandbox import GRAPH_VERSION
from streams.platform.admin import ensure_topics

__all__ = ["run"]

_BODY = (
    b'{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511999990000",'
    b'"type":"text","text":{"body":"Your order has shipped"}}'
)
_HEADERS = {"Authorization": f"Bearer {ACCESS_TOKEN}", "Content-Type": "application/json"}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _per_op(
    op: Callable[[int], Awaitable[None]], count: int, concurrency: int
) -> tuple[float, float]:
    """(CPU µs per op in this process, ops per second) for ``count`` ops."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await op(i)

    await asyncio.gather(*(one(i) for i in range(min(200, count))))  # warm up
    cpu, wall = _cpu(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return (_cpu() - cpu) / count * 1e6, count / (time.perf_counter() - wall)


async def _http(stack: Stack, count: int) -> list[str]:
    url = f"{stack.sandbox_url}/{GRAPH_VERSION}/{PHONE_NUMBER_ID}/messages"
    await stack.sandbox_delay(None)  # no delay fault left over from (c)
    lines = []
    for concurrency in (1, 64, 256):
        async with httpx.AsyncClient(
            timeout=10,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        ) as client:

            async def with_httpx(_: int, client: httpx.AsyncClient = client) -> None:
                (await client.post(url, content=_BODY, headers=_HEADERS)).raise_for_status()

            us, rate = await _per_op(with_httpx, count, concurrency)
        lines.append(
            f"provider call, httpx, {concurrency} in flight: {us:,.0f} µs CPU ({rate:,.0f}/s)"
        )
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def with_aiohttp(_: int, session: aiohttp.ClientSession = session) -> None:
                async with session.post(url, data=_BODY, headers=_HEADERS) as response:
                    await response.read()
                    response.raise_for_status()

            us, rate = await _per_op(with_aiohttp, count, concurrency)
        lines.append(
            f"provider call, aiohttp, {concurrency} in flight: {us:,.0f} µs CPU ({rate:,.0f}/s)"
        )
    await stack.sandbox_delay(None)  # forgets the recorded messages
    return lines


async def _redis(stack: Stack, count: int) -> list[str]:
    pool = BlockingConnectionPool.from_url(stack.redis_url, max_connections=64)
    redis = Redis(connection_pool=pool)
    script = redis.register_script("return redis.call('HSET', KEYS[1], 'phase', ARGV[1])")
    lines = []
    try:

        async def hgetall(i: int) -> None:
            await redis.hgetall(f"bench:micro:{i % 1000}")

        async def evalsha(i: int) -> None:
            await script(keys=[f"bench:micro:{i % 1000}"], args=["sent"])

        async def pipeline(i: int) -> None:
            async with redis.pipeline(transaction=True) as pipe:
                pipe.hset(f"bench:micro:{i % 1000}", "phase", "sent")
                pipe.expire(f"bench:micro:{i % 1000}", 600)
                await pipe.execute()

        for name, op in (("HGETALL", hgetall), ("EVALSHA", evalsha), ("MULTI pipeline", pipeline)):
            us, rate = await _per_op(op, count, 64)
            lines.append(f"Redis {name}, 64 in flight: {us:,.0f} µs CPU ({rate:,.0f}/s)")
    finally:
        await redis.aclose()
        await pool.disconnect()
    return lines


async def _broker(stack: Stack) -> list[str]:
    broker = stack.pids.get("broker")
    if broker is None:
        return ["broker: not measured (an external broker)"]
    settings = stack.settings("micro")
    await ensure_topics(settings)
    topic = settings.topic_status
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    lines = []
    try:
        requests = 1000
        before = cpu_seconds(broker)
        for i in range(requests):
            await producer.send_and_wait(topic, b"x" * 400, key=f"t{i % 50}".encode())
        per = (cpu_seconds(broker) - before) / requests * 1e6
        lines.append(f"broker: one produce request (1 record, acks=all): {per:,.0f} µs CPU")
        records = 20_000
        before = cpu_seconds(broker)
        futures = [
            await producer.send(topic, b"x" * 400, key=f"t{i % 50}".encode())
            for i in range(records)
        ]
        await asyncio.gather(*futures)
        per = (cpu_seconds(broker) - before) / records * 1e6
        lines.append(f"broker: one record in a batched burst: {per:,.1f} µs CPU")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap, group_id=settings.app_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        consumer.assign(partitions)
        before = cpu_seconds(broker)
        commits = 1000
        for i in range(commits):
            await consumer.commit({tp: i + 1 for tp in partitions})
        per = (cpu_seconds(broker) - before) / commits * 1e6
        lines.append(f"broker: one offset commit ({len(partitions)} partitions): {per:,.0f} µs CPU")
    finally:
        await consumer.stop()
    return lines


async def run(stack: Stack, *, quick: bool = False) -> list[str]:
    count = 400 if quick else 4000
    lines = await _http(stack, count)
    lines += await _redis(stack, count)
    lines += await _broker(stack)
    return [f"(m) {line}" for line in lines]
