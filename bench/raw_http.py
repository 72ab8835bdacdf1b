"""(a2) The router's I/O without the router: the anchor Herald's (b) is compared with.

``python -m bench.raw_http --bootstrap B --source T --sink S --api URL`` consumes the
request topic and, per request, makes one HTTP call to the same WhatsApp Business
sandbox Herald calls (aiohttp, up to 256 in flight, as Herald's ``HERALD_MAX_IN_FLIGHT``)
and produces one ``sent`` status with the message id it answered, without awaiting each;
after a batch's acknowledgements it commits the offsets. Same at-least-once contract and
the same external work as the router, with none of its validation, state or routing:
what the client stack (aiokafka + aiohttp) can do for this job on this machine.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence

import aiohttp
import orjson

from bench.measure import Load
from bench.raw import (
    anchor_clients,
    anchor_parser,
    assign_source,
    run_anchor,
    same_loop_as_worker,
    status_for,
)
from bench.report import Result
from bench.stack import ACCESS_TOKEN, PHONE_NUMBER_ID, Stack
from sandbox import GRAPH_VERSION

__all__ = ["main", "run"]

IN_FLIGHT = 256


async def _call(session: aiohttp.ClientSession, url: str, value: bytes) -> str:
    request = orjson.loads(value)
    body = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": request["recipient"]["phone"].lstrip("+"),
        "type": "text",
        "text": {"body": request["content"]["body"]},
    }
    async with session.post(url, data=orjson.dumps(body)) as response:
        answer = orjson.loads(await response.read())
    return str(answer["messages"][0]["id"])


async def passthrough(bootstrap: str, source: str, sink: str, group: str, api: str) -> None:
    consumer, producer = anchor_clients(bootstrap, group)
    url = f"{api}/{PHONE_NUMBER_ID}/messages"
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    session = aiohttp.ClientSession(connector=connector, headers=headers)
    slots = asyncio.Semaphore(IN_FLIGHT)
    await consumer.start()
    await producer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    async def one(key: bytes | None, value: bytes) -> asyncio.Future[object]:
        async with slots:
            wamid = await _call(session, url, value)
        status = orjson.loads(status_for(value))
        status["providerMessageId"] = wamid
        return await producer.send(sink, key=key, value=orjson.dumps(status))

    try:
        await assign_source(consumer, source)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=2000)
            tasks = [
                asyncio.create_task(one(record.key, record.value))
                for records in batches.values()
                for record in records
                if record.value is not None
            ]
            if tasks:
                acks = await asyncio.gather(*tasks)
                await asyncio.gather(*acks)
                await consumer.commit()
    finally:
        await session.close()
        await producer.stop()
        await consumer.stop()


async def run(stack: Stack, loads: Sequence[tuple[str, str, Load]]) -> list[Result]:
    """Start the anchor process and measure each ``(key, title, load)`` through it."""
    await stack.sandbox_delay(None)
    api = f"{stack.sandbox_url}/{GRAPH_VERSION}"
    return await run_anchor(stack, "raw-http", "bench.raw_http", ["--api", api], loads)


def main() -> None:
    parser = anchor_parser(__doc__)
    parser.add_argument("--api", required=True, help="the Graph API base URL, with version")
    args = parser.parse_args()
    same_loop_as_worker()
    asyncio.run(passthrough(args.bootstrap, args.source, args.sink, args.group, args.api))


if __name__ == "__main__":
    main()
