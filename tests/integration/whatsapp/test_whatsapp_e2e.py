"""WhatsApp Web end to end: real ``herald worker`` processes (router + whatsapp), real
headless Chromium with the wa-js bundle and Herald's bridge, the WhatsApp Web simulator
as WhatsApp, the embedded broker and a real redis-server.

Browser and worker starts cost seconds each, so each test shares one setup across a
story: pairing, sending every content type, acks, incoming messages, the session
endpoints and their tenant isolation, a worker restart, a logout.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio

from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import DeadLetterInfo, DeadLetterReason
from streams.tenancy.crypto import Cipher
from streams.whatsapp.store import SessionStore
from tests.helpers import WorkerProcess, consume_until, produce
from tests.integration.whatsapp.rig import Rig, RigStarter, support_sessions

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

ACME_PHONE = "5511988887777"
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
    )
).decode()


class Env(Rig):
    """The rig, with the requests and reads of these stories."""

    async def send(self, tenant: str, phone: str = "+55 11 99999-0001", **content: Any) -> str:
        nid = f"n-{uuid.uuid4()}"
        request = {
            "id": nid,
            "tenantId": tenant,
            "channel": "whatsapp",
            "recipient": {"phone": phone},
            "content": content or {"body": "Your order has shipped"},
            "metadata": {"orderId": 7},
        }
        await produce(self.settings, self.settings.topic_requests, tenant, orjson.dumps(request))
        return nid

    async def statuses(
        self,
        nid: str,
        *wanted: str,
        timeout: float = 60,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        def mine(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [e for e in events if e.get("notificationId") == nid]

        events = await self.records(
            self.settings.topic_status,
            lambda es: set(wanted) <= {e["status"] for e in mine(es)},
            timeout,
        )
        return mine(events)

    async def states(
        self, tenant: str, until: Callable[[list[dict[str, Any]]], bool]
    ) -> list[dict[str, Any]]:
        def of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [e for e in events if e["tenantId"] == tenant]

        events = await self.records(self.settings.topic_whatsapp_state, lambda es: until(of(es)))
        return of(events)

    async def get(self, worker: WorkerProcess, path: str, key: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with httpx.AsyncClient(base_url=worker.url, timeout=10) as client:
            return await client.get(path, headers=headers)

    async def post(self, worker: WorkerProcess, path: str, key: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with httpx.AsyncClient(base_url=worker.url, timeout=10) as client:
            return await client.post(path, headers=headers)


def statuses_of(events: list[dict[str, Any]]) -> list[str | None]:
    return [e.get("status") for e in events if e.get("status")]


@pytest_asyncio.fixture
async def env(start_rig: RigStarter) -> AsyncIterator[Env]:
    # The page reloads once after each scan, as WhatsApp Web sometimes does: the bridge must
    # subscribe again on the new document.
    sim = WhatsAppWebSimulator(qr_interval=60, reload_after_pairing=True)
    sessions = support_sessions(("acme", "globex"))
    sessions["globex"][0]["autoClose"] = 4000
    async with start_rig(
        Env,
        sim,
        sessions,
        wppconnect_call_timeout_seconds=30.0,
        wppconnect_send_rate=0,  # no anti-ban pacing: this story sends many messages
        topic_partitions=2,
    ) as env:
        yield env


async def test_pairing_sending_acks_endpoints_restart_and_logout(env: Env) -> None:
    s = env.settings
    # --- a first message: the session starts and shows a QR code --------------------------
    waiting = await env.send("acme")
    [qr_event] = await env.records(
        s.topic_whatsapp_qr, lambda es: any(e["tenantId"] == "acme" for e in es)
    )
    assert qr_event["session"] == "tenant-acme"
    assert qr_event["attempts"] == 1
    assert qr_event["qrCode"].startswith("data:image/png;base64,")
    assert "█" in qr_event["asciiQR"]
    sealed = await env.redis.get("wppconnect:qr:acme")
    assert qr_event["urlCode"].encode() not in sealed  # encrypted at rest (docs/security.md)
    qrs = SessionStore(env.redis, cipher=Cipher.from_settings(s))
    stored = await qrs.get_qr("acme")
    assert stored is not None
    assert stored["urlCode"] == qr_event["urlCode"]
    assert 0 < await env.redis.pttl("wppconnect:qr:acme") <= 60000
    # ... served over HTTP by either worker, to acme's key only.
    for worker in (env.router, env.wa):
        ok = await env.get(worker, "/webhooks/wppconnect/qr/acme", env.keys["acme"])
        assert ok.status_code == 200
        assert ok.json()["urlCode"] == qr_event["urlCode"]
        assert set(ok.json()) == {"qrCode", "asciiQR", "urlCode", "expiresAt", "attempts", "qrRef"}
    assert (await env.get(env.router, "/webhooks/wppconnect/qr/acme", None)).status_code == 401
    other = await env.get(env.router, "/webhooks/wppconnect/qr/acme", env.keys["globex"])
    assert other.status_code == 403
    states = await env.states("acme", lambda es: "notLogged" in statuses_of(es))
    assert statuses_of(states) == ["notLogged"]
    events = await env.statuses(waiting, "accepted")
    assert [e["status"] for e in events] == ["accepted"]  # still waiting for the scan

    # --- the phone scans it: the waiting message goes out ---------------------------------
    await env.sim.scan(ok.json()["urlCode"], ACME_PHONE)
    events = await env.statuses(waiting, "sent")
    assert [e["status"] for e in events] == ["accepted", "sent"]
    sent = events[-1]
    assert sent["provider"] == "wppconnect"
    assert sent["metadata"] == {"orderId": 7}
    message = env.sim.message(sent["providerMessageId"])
    assert message is not None
    assert (message.to, message.type, message.body) == (
        "5511999990001",
        "chat",
        sent and "Your order has shipped",
    )
    states = await env.states("acme", lambda es: "inChat" in statuses_of(es))
    assert statuses_of(states) == ["notLogged", "qrReadSuccess", "inChat"]
    assert await env.redis.get("wppconnect:qr:acme") is None
    body: dict[str, Any] = {}
    # The stored session gains its phone number just after `inChat` is emitted: wait for it.
    async with asyncio.timeout(10):
        while "phone" not in body:
            session = await env.get(
                env.router, "/webhooks/wppconnect/session/acme", env.keys["acme"]
            )
            assert session.status_code == 200
            body = session.json()
            if "phone" not in body:
                await asyncio.sleep(0.05)
    assert (body["status"], body["state"], body["phone"]) == ("inChat", "CONNECTED", ACME_PHONE)
    assert body["since"]
    assert body["session"] == "tenant-acme"
    forbidden = await env.get(env.wa, "/webhooks/wppconnect/session/acme", env.keys["globex"])
    assert forbidden.status_code == 403
    # Metrics, scraped as Prometheus does (GET /metrics on every worker's admin listener).
    async with httpx.AsyncClient(timeout=10) as client:
        scraped = await client.get(f"{env.wa.metrics_url}/metrics")
        assert (await client.get(f"{env.router.metrics_url}/metrics")).status_code == 200
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "herald_notifications_sent_total{" in scraped.text
    assert 'provider="wppconnect"' in scraped.text
    assert "herald_whatsapp_qr_codes_total" in scraped.text
    assert "herald_whatsapp_sessions_active" in scraped.text
    assert "herald_whatsapp_session_queue_depth{" in scraped.text  # per running session
    assert 'tenant="acme"' in scraped.text
    assert (await env.get(env.router, "/metrics", None)).status_code == 404  # not public

    # --- acks become statuses, once each and in order -------------------------------------
    pmid = sent["providerMessageId"]
    await env.sim.ack(pmid, 2)
    await env.statuses(waiting, "delivered")
    await env.sim.ack(pmid, 3)
    await env.sim.ack(pmid, 2)  # late: dropped
    events = await env.statuses(waiting, "read")
    assert [e["status"] for e in events] == ["accepted", "sent", "delivered", "read"]

    # --- every content type; a number not on WhatsApp -------------------------------------
    env.sim.mark_not_on_whatsapp("5511977776666")
    media = await env.send(
        "acme",
        media={"base64": PNG, "filename": "dot.png", "mimetype": "image/png", "caption": "a dot"},
    )
    location = await env.send(
        "acme",
        location={"latitude": -23.56, "longitude": -46.65, "name": "Office", "address": "Av. P"},
    )
    contact = await env.send("acme", contact={"contactId": "+55 11 95555-4444", "name": "Ana"})
    nowhere = await env.send("acme", phone="+55 11 97777-6666")
    ids = {}
    for nid in (media, location, contact):
        ids[nid] = (await env.statuses(nid, "sent"))[-1]["providerMessageId"]
    image = env.sim.message(ids[media])
    assert image is not None
    assert image.type == "image"
    assert (image.filename, image.mimetype, image.caption) == ("dot.png", "image/png", "a dot")
    place = env.sim.message(ids[location])
    assert place is not None
    assert place.type == "location"
    assert place.location is not None
    assert place.location["name"] == "Office"
    card = env.sim.message(ids[contact])
    assert card is not None
    assert card.type == "vcard"
    assert card.contacts
    failed = (await env.statuses(nowhere, "failed"))[-1]
    assert failed["error"] == {
        "code": "not_on_whatsapp",
        "message": failed["error"]["message"],
        "retryable": False,
    }

    # --- incoming messages ------------------------------------------------------------------
    await env.sim.incoming(ACME_PHONE, "5511922223333", "Where is my order?")
    [inbound] = await env.records(
        s.topic_whatsapp_inbound, lambda es: any(e["tenantId"] == "acme" for e in es)
    )
    assert inbound["from"] == "5511922223333@c.us"
    assert inbound["body"] == "Where is my order?"
    assert inbound["type"] == "chat"
    assert inbound["messageId"]
    assert inbound["timestamp"]

    # --- a restarted worker comes back logged in, without a QR code -------------------------
    await env.wa.restart()
    after = await env.send("acme")
    assert (await env.statuses(after, "sent"))[-1]["provider"] == "wppconnect"
    states = await env.states("acme", lambda es: statuses_of(es).count("inChat") == 2)
    # No notLogged (so no QR code) after the restart: the profile kept the login.
    assert statuses_of(states) == [
        "notLogged",
        "qrReadSuccess",
        "inChat",
        "browserClose",  # the worker stopped
        "isLogged",
        "inChat",
    ]

    # --- the phone logs the session out: token deleted, the next message asks for a QR ------
    await env.sim.logout(ACME_PHONE)
    states = await env.states("acme", lambda es: "deleteToken" in statuses_of(es))
    assert "desconnectedMobile" in statuses_of(states)
    assert not (env.settings.wppconnect_token_folder and _profile(env).exists())
    again = await env.send("acme")
    qrs = await env.records(
        s.topic_whatsapp_qr, lambda es: len([e for e in es if e["tenantId"] == "acme"]) == 2
    )
    assert [e["attempts"] for e in qrs if e["tenantId"] == "acme"] == [1, 1]
    await env.sim.scan(qrs[-1]["urlCode"], ACME_PHONE)
    await env.statuses(again, "sent")


def _profile(env: Env) -> Any:
    from pathlib import Path

    return Path(env.settings.wppconnect_token_folder) / "tenant-acme"


async def test_unscanned_qr_auto_closes_and_commands(env: Env) -> None:
    s = env.settings
    first = await env.send("globex", phone="+1 202 555 0100")
    second = await env.send("globex", phone="+1 202 555 0101")
    await env.records(s.topic_whatsapp_qr, lambda es: any(e["tenantId"] == "globex" for e in es))
    # A tenant cannot read another's QR code.
    denied = await env.get(env.wa, "/webhooks/wppconnect/qr/globex", env.keys["acme"])
    assert denied.status_code == 403
    # Nobody scans within autoClose (4 s for globex): both waiting messages fail, retryable.
    for nid in (first, second):
        events = await env.statuses(nid, "failed")
        assert [e["status"] for e in events] == ["accepted", "failed"]
        assert events[-1]["error"]["code"] == "session_not_authenticated"
        assert events[-1]["error"]["retryable"] is True
    states = await env.states("globex", lambda es: "browserClose" in statuses_of(es))
    assert statuses_of(states) == ["notLogged", "autocloseCalled", "browserClose"]
    gone = await env.get(env.router, "/webhooks/wppconnect/qr/globex", env.keys["globex"])
    assert gone.status_code == 404

    # Commands: connect over Kafka starts the session again (a new QR code) ...
    await produce(
        s,
        s.topic_whatsapp_commands,
        "globex",
        orjson.dumps({"tenantId": "globex", "command": "connect"}),
    )
    await env.records(
        s.topic_whatsapp_qr, lambda es: len([e for e in es if e["tenantId"] == "globex"]) == 2
    )
    # ... disconnect over HTTP (any worker) closes it; 401 without a key.
    path = "/webhooks/wppconnect/session/globex/disconnect"
    assert (await env.post(env.router, path, None)).status_code == 401
    accepted = await env.post(env.router, path, env.keys["globex"])
    assert accepted.status_code == 202
    await env.states("globex", lambda es: statuses_of(es).count("browserClose") == 2)
    # Undecodable commands are dead letters; the worker carries on.
    garbage = b'{"tenantId": "globex", "command": "self-destruct"}'
    await produce(s, s.topic_whatsapp_commands, "globex", garbage)
    [letter] = await consume_until(s, s.topic_dlq, 1, where=lambda r: r.value == garbage)
    info = DeadLetterInfo.from_headers([(k, bytes(v)) for k, v in letter.headers])
    assert info.reason == DeadLetterReason.INVALID_COMMAND
    await produce(
        s,
        s.topic_whatsapp_commands,
        "globex",
        orjson.dumps({"tenantId": "globex", "command": "status"}),
    )
    await env.states("globex", lambda es: statuses_of(es).count("browserClose") == 3)
