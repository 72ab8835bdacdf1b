"""The WhatsApp Web part of ``herald demo``: the QR flow against the simulator.

A ``wppconnect`` request for tenant ``acme`` starts a browser session in a
``herald worker whatsapp`` process; its QR code arrives on ``whatsapp.qr`` and is printed;
"the phone" (the simulator's API) scans it; the waiting message goes out; the phone's
acks become ``delivered`` and ``read``.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from sandbox import serve_app
from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import Settings
from streams.cli.kafka import from_the_start
from streams.platform.embedded import find_free_port, settings_env, spawn, terminate_process
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore

__all__ = ["unavailable_reason", "whatsapp_web_demo"]

TENANT = "acme"
PHONE = "5511988887777"


def unavailable_reason(settings: Settings) -> str | None:
    """Why the WhatsApp Web part cannot run on this machine, or ``None``."""
    from streams.whatsapp.browser import find_chromium, wajs_path

    if find_chromium(settings.wppconnect_chromium_path) is None:
        return "no Chromium found (scripts/bootstrap.sh installs Debian's chromium)"
    bundle = wajs_path(settings)
    if not bundle.exists():
        return f"no wa-js bundle at {bundle} (scripts/bootstrap.sh installs it with npm)"
    return None


async def _next(consumer: AIOKafkaConsumer, want: Any, deadline: float, nid: str) -> dict[str, Any]:
    while time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for r in records:
                event = orjson.loads(r.value)
                if want(event):
                    return dict(event)
                if (
                    event.get("status") in ("rejected", "failed")
                    and event.get("notificationId") == nid
                ):
                    raise RuntimeError(
                        f"the WhatsApp Web request ended {event['status']}: {event.get('error')}"
                    )
    raise TimeoutError("the WhatsApp Web demo timed out")


async def whatsapp_web_demo(
    stack: AsyncExitStack, cfg: Settings, redis: Redis, workdir: Path, budget_seconds: float
) -> bool:
    sim = WhatsAppWebSimulator(qr_interval=20)
    stack.push_async_callback(sim.close)
    sim_url = await stack.enter_async_context(serve_app(sim.app, port=0))
    wa_cfg = cfg.model_copy(
        update={
            "web_port": find_free_port(),
            "wppconnect_enabled": True,
            "whatsapp_web_url": sim_url,
            "wppconnect_token_folder": str(workdir / "tokens"),
        }
    )
    await IntegrationStore(redis, Cipher.from_settings(cfg)).set(
        TENANT, "wppconnect", {"sessionName": "demo", "phoneNumberId": "demo-1"}
    )
    print(f"\nWhatsApp Web simulator at {sim_url} (a stand-in for web.whatsapp.com)", flush=True)
    log = workdir / "worker-whatsapp.log"
    env = {**os.environ, **settings_env(wa_cfg)}
    proc = await spawn(
        [sys.executable, "-m", "streams.cli.main", "worker", "whatsapp"], log_path=log, env=env
    )
    stack.push_async_callback(terminate_process, proc)
    print(f"worker whatsapp: http://127.0.0.1:{wa_cfg.web_port} (log: {log})", flush=True)

    consumer = await from_the_start(cfg, cfg.topic_whatsapp_qr, cfg.topic_status)
    stack.push_async_callback(consumer.stop)
    nid = f"demo-wpp-{uuid.uuid4().hex[:6]}"
    request = {
        "id": nid,
        "tenantId": TENANT,
        "channel": "whatsapp",
        "provider": "wppconnect",
        "recipient": {"phone": "+5511999990001"},
        "content": {"body": "Sent through a WhatsApp Web session"},
    }
    producer = AIOKafkaProducer(bootstrap_servers=cfg.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            cfg.topic_requests, key=TENANT.encode(), value=orjson.dumps(request)
        )
    finally:
        await producer.stop()
    deadline = time.monotonic() + budget_seconds

    qr = await _next(
        consumer, lambda e: e.get("tenantId") == TENANT and "urlCode" in e, deadline, nid
    )
    print("\nQR code for tenant acme (also at GET /webhooks/wppconnect/qr/acme):", flush=True)
    print(qr["asciiQR"], flush=True)
    print(f"the phone {PHONE} scans it ...", flush=True)
    await sim.scan(qr["urlCode"], PHONE)

    def status(name: str) -> Any:
        return lambda e: e.get("notificationId") == nid and e.get("status") == name

    sent = await _next(consumer, status("sent"), deadline, nid)
    print(f"  sent       {nid}  wppconnect  {sent['providerMessageId']}", flush=True)
    await sim.ack(sent["providerMessageId"], 2)
    await _next(consumer, status("delivered"), deadline, nid)
    print(f"  delivered  {nid}  (ack 2 from the phone)", flush=True)
    await sim.ack(sent["providerMessageId"], 3)
    await _next(consumer, status("read"), deadline, nid)
    print(f"  read       {nid}  (ack 3 from the phone)", flush=True)
    return True
