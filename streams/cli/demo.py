"""``herald demo``: Herald end to end on embedded defaults, in one command.

Starts the embedded broker and Redis (unless ``KAFKA_BOOTSTRAP_SERVERS`` / ``REDIS_URL``
are set), the WhatsApp Business sandbox, a router worker process, then produces sample
requests for tenant ``acme`` -- every content type, a duplicate, an invalid recipient and
undecodable bytes -- and prints the status events and dead letters as they arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from sandbox import GRAPH_VERSION, WhatsAppBusinessSandbox, serve_app
from schemas import DeadLetterInfo, Settings
from seeds import load_seeds
from streams.cli._support import add_command
from streams.cli.demo_whatsapp_web import unavailable_reason, whatsapp_web_demo
from streams.cli.kafka import from_the_start
from streams.platform.admin import ensure_topics
from streams.platform.embedded import (
    embedded_kafka,
    embedded_redis,
    find_free_port,
    settings_env,
    spawn,
    terminate_process,
)
from streams.platform.redis import redis_for
from streams.tenancy.crypto import Cipher, generate_key
from streams.tenancy.integrations import IntegrationStore

__all__ = ["register"]

PHONE_NUMBER_ID = "106540352242922"
TENANT = "acme"


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "demo",
        run,
        help="run Herald end to end on embedded defaults and print the status events",
        description=(__doc__ or "").split("\n\n", 1)[1].replace("``", "`"),
    )
    parser.add_argument("--timeout", type=float, default=90.0, help="give up after N seconds")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(".herald-demo"),
        help="where the logs (broker, worker) and the inbox database go",
    )
    parser.add_argument(
        "--no-whatsapp-web",
        action="store_true",
        help="skip the WhatsApp Web (QR flow) part",
    )


def _samples() -> list[tuple[str, bytes, str]]:
    """(label, value, expected final outcome)."""
    run = uuid.uuid4().hex[:6]

    def req(label: str, content: dict[str, Any], phone: str = "+5511999990001") -> dict[str, Any]:
        return {
            "id": f"demo-{run}-{label}",
            "tenantId": TENANT,
            "channel": "whatsapp",
            "recipient": {"phone": phone},
            "content": content,
            "metadata": {"demo": label},
        }

    text = req("text", {"body": "Your order #1234 has shipped"})
    image = req(
        "image",
        {
            "media": {
                "url": "https://example.com/receipt.png",
                "mimetype": "image/png",
                "caption": "Receipt",
            }
        },
    )
    location = req(
        "location",
        {
            "location": {
                "latitude": -23.5614,
                "longitude": -46.6559,
                "name": "Pickup point",
                "address": "Av. Paulista, 1578",
            }
        },
    )
    contact = req("contact", {"contact": {"contactId": "+5511988887777", "name": "Support"}})
    invalid = req("bad-phone", {"body": "never sent"}, phone="12")
    return [
        ("text", orjson.dumps(text), "read"),
        ("image", orjson.dumps(image), "read"),
        ("location", orjson.dumps(location), "read"),
        ("contact", orjson.dumps(contact), "read"),
        ("duplicate of text", orjson.dumps(text), "(no new events)"),
        ("invalid recipient", orjson.dumps(invalid), "rejected"),
        ("garbage bytes", b"\xff\xfe this is not JSON", "dead letter"),
    ]


def _line(*parts: str) -> None:
    print("  ".join(parts), flush=True)


async def _wait_healthy(url: str, proc: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"worker exited ({proc.returncode}); see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"worker not healthy after 90 s; see {log}")


async def _watch(settings: Settings, expected: int, deadline: float) -> int:
    """Print status events and dead letters; return how many samples reached their end."""
    consumer = await from_the_start(settings, settings.topic_status, settings.topic_dlq)
    finished = 0
    try:
        while finished < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    if r.topic == settings.topic_dlq:
                        info = DeadLetterInfo.from_headers([(k, bytes(v)) for k, v in r.headers])
                        _line("dead letter ", f"{info.reason.value:<14}", info.detail[:60])
                        finished += 1
                        continue
                    e = orjson.loads(r.value)
                    extra = e.get("providerMessageId") or (e.get("error") or {}).get("code", "")
                    _line(
                        f"{e['status']:<12}",
                        f"{e['notificationId']:<28}",
                        f"{e.get('provider') or '-':<18}",
                        str(extra),
                    )
                    if e["status"] in {"read", "rejected", "failed"}:
                        finished += 1
    finally:
        await consumer.stop()
    return finished


async def run(args: argparse.Namespace, settings: Settings) -> int:
    workdir: Path = args.workdir
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    if "LOG_LEVEL" not in os.environ:  # the demo's own output is the point: keep logs quiet
        logging.getLogger().setLevel(logging.WARNING)
    async with contextlib.AsyncExitStack() as stack:
        if "KAFKA_BOOTSTRAP_SERVERS" in os.environ:
            bootstrap = settings.kafka_bootstrap_servers
        else:
            bootstrap = await stack.enter_async_context(
                embedded_kafka(log_path=workdir / "broker.log")
            )
        if "REDIS_URL" in os.environ:
            redis_url = settings.redis_url
        else:
            redis_url = await stack.enter_async_context(embedded_redis())
        _line("broker", bootstrap, " redis", redis_url)

        wa_reason = "--no-whatsapp-web" if args.no_whatsapp_web else unavailable_reason(settings)
        web_port = find_free_port()
        sandbox = WhatsAppBusinessSandbox(auto_status_delay=0.3)
        stack.push_async_callback(sandbox.close)
        base_url = await stack.enter_async_context(serve_app(sandbox.app, port=0))
        secret = settings.secret_key.get_secret_value() if settings.secret_key else generate_key()
        cfg = settings.model_copy(
            update={
                "kafka_bootstrap_servers": bootstrap,
                "redis_url": redis_url,
                "web_port": web_port,
                "web_host": "127.0.0.1",
                "whatsapp_business_api_url": f"{base_url}/{GRAPH_VERSION}",
                "secret_key": SecretStr(secret),
                "broker_rebalance_timeout": 4.0,
                "broker_session_timeout": 6.0,
                "broker_heartbeat_interval": 1.0,
                "log_level": "warning",
                # the router accepts wppconnect requests only when WhatsApp Web is enabled
                "wppconnect_enabled": wa_reason is None,
                "database_url": f"sqlite+aiosqlite:///{(workdir / 'inbox.db').resolve()}",
            }
        )
        sandbox.add_account(
            PHONE_NUMBER_ID,
            access_token="sandbox-token",
            app_secret="sandbox-app-secret",
            webhook_url=f"http://127.0.0.1:{web_port}/webhooks/whatsapp-business",
            auto_statuses=("sent", "delivered", "read"),
        )
        _line("sandbox", f"{base_url}/{GRAPH_VERSION}", "(WhatsApp Business Cloud API fake)")

        redis = redis_for(cfg)
        stack.push_async_callback(redis.aclose)
        await load_seeds(redis)
        await IntegrationStore(redis, Cipher.from_settings(cfg)).set(
            TENANT,
            "whatsapp-business",
            {
                "phoneNumberId": PHONE_NUMBER_ID,
                "accessToken": "sandbox-token",
                "appSecret": "sandbox-app-secret",
                "verifyToken": "sandbox-verify-token",
            },
            is_default=True,
        )
        await ensure_topics(cfg)

        log = workdir / "worker.log"
        env = {**os.environ, **settings_env(cfg)}
        proc = await spawn(
            [sys.executable, "-m", "streams.cli.main", "worker"], log_path=log, env=env
        )
        stack.push_async_callback(terminate_process, proc)
        _line("worker", f"http://127.0.0.1:{web_port}", f"(log: {log})")
        await _wait_healthy(f"http://127.0.0.1:{web_port}", proc, log)

        samples = _samples()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            print("\nproducing:", flush=True)
            for label, value, expect in samples:
                await producer.send_and_wait(cfg.topic_requests, key=TENANT.encode(), value=value)
                _line(f"  {label:<18}", f"expect: {expect}")
        finally:
            await producer.stop()

        print("\nstatus events (status, notification, provider, message id or error):", flush=True)
        expected = sum(1 for _, _, e in samples if e != "(no new events)")
        finished = await _watch(cfg, expected, time.monotonic() + args.timeout)
        calls = len(sandbox.messages)
        print(
            f"\n{finished}/{expected} samples finished; the Graph API fake received {calls} messages "
            "(the duplicate caused none).",
            flush=True,
        )
        ok = finished == expected
        if wa_reason is not None:
            print(f"\nWhatsApp Web part skipped: {wa_reason}", flush=True)
        else:
            ok = await whatsapp_web_demo(stack, cfg, redis, workdir, args.timeout) and ok
        return 0 if ok else 1
    return 1
