"""Several numbers per tenant, end to end: real ``herald worker`` processes (router and
whatsapp), headless Chromium, the WhatsApp Web simulator, the embedded broker and Redis.

Tenant ``acme`` has a support number (its first session, the default) and a sales number
(a second ``wppconnect`` integration). A request with ``sender: "sales"`` pairs and goes
out through the sales session; one without ``sender`` through the support session; each
session's events carry its ``sessionName``; the endpoints select a session with
``?session=``; an unknown sender is rejected; a session paired by another number than
its ``phoneNumberId`` is reported and logged out.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio

from sandbox.whatsapp_web import WhatsAppWebSimulator
from tests.helpers import produce
from tests.integration.whatsapp.rig import Rig, RigStarter

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SUPPORT_PHONE = "5511911110001"
SALES_PHONE = "5511922220002"
STRANGER_PHONE = "5511933330003"


class Env(Rig):
    """The rig, with the requests and reads of these stories."""

    wait_seconds = 90

    async def send(self, tenant: str, **extra: Any) -> str:
        nid = f"n-{uuid.uuid4()}"
        request = {
            "id": nid,
            "tenantId": tenant,
            "channel": "whatsapp",
            "recipient": {"phone": "+55 11 99999-0001"},
            "content": {"body": "hello"},
            **extra,
        }
        await produce(self.settings, self.settings.topic_requests, tenant, orjson.dumps(request))
        return nid

    async def status(self, nid: str, wanted: str) -> dict[str, Any]:
        def mine(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [e for e in events if e["notificationId"] == nid and e["status"] == wanted]

        return mine(await self.records(self.settings.topic_status, mine))[-1]

    async def qr(self, tenant: str, session_name: str) -> dict[str, Any]:
        def mine(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [
                e
                for e in events
                if e["tenantId"] == tenant and e.get("sessionName") == session_name
            ]

        return mine(await self.records(self.settings.topic_whatsapp_qr, mine))[-1]

    async def get(self, path: str, tenant: str = "acme") -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"}
        async with httpx.AsyncClient(base_url=self.router.url, timeout=10) as client:
            return await client.get(path, headers=headers)


@pytest_asyncio.fixture
async def env(start_rig: RigStarter) -> AsyncIterator[Env]:
    sessions = {
        "acme": [
            {"sessionName": "support", "phoneNumberId": "wpp-support"},
            {"sessionName": "sales", "phoneNumberId": f"+{SALES_PHONE}"},
        ],
        "globex": [{"sessionName": "main", "phoneNumberId": SUPPORT_PHONE}],
    }
    sim = WhatsAppWebSimulator(qr_interval=60)
    async with start_rig(Env, sim, sessions, wppconnect_send_rate=0, topic_partitions=2) as env:
        yield env


async def test_two_numbers_of_one_tenant_and_a_wrong_number(env: Env) -> None:
    # --- sender "sales": the sales session starts, pairs, and sends -----------------------
    to_sales = await env.send("acme", sender="sales")
    sales_qr = await env.qr("acme", "sales")
    assert sales_qr["session"] == "tenant-acme@sales"
    assert sales_qr["qrUrl"] == "/webhooks/wppconnect/qr/acme?session=sales"
    served = await env.get(sales_qr["qrUrl"])
    assert served.status_code == 200
    assert served.json()["urlCode"] == sales_qr["urlCode"]
    assert await env.redis.exists("wppconnect:qr:acme@sales")
    # Nothing of the sales session under the first session's keys.
    assert not await env.redis.exists("wppconnect:qr:acme")
    await env.sim.scan(served.json()["urlCode"], SALES_PHONE)
    sent = await env.status(to_sales, "sent")
    message = env.sim.message(sent["providerMessageId"])
    assert message is not None
    assert message.from_phone == SALES_PHONE

    # --- no sender: the default session (support) ------------------------------------------
    to_default = await env.send("acme")
    support_qr = await env.qr("acme", "support")
    assert support_qr["session"] == "tenant-acme"
    assert support_qr["qrUrl"] == "/webhooks/wppconnect/qr/acme"  # the single-session URL
    served = await env.get("/webhooks/wppconnect/qr/acme")
    assert served.json()["urlCode"] == support_qr["urlCode"]
    await env.sim.scan(support_qr["urlCode"], SUPPORT_PHONE)
    sent = await env.status(to_default, "sent")
    message = env.sim.message(sent["providerMessageId"])
    assert message is not None
    assert message.from_phone == SUPPORT_PHONE

    # Both paired: each request goes out through the session its sender names.
    again_sales = await env.send("acme", sender="sales")
    again_support = await env.send("acme", sender="support")
    for nid, phone in ((again_sales, SALES_PHONE), (again_support, SUPPORT_PHONE)):
        message = env.sim.message((await env.status(nid, "sent"))["providerMessageId"])
        assert message is not None
        assert message.from_phone == phone

    # --- an unknown sender is rejected --------------------------------------------------------
    nowhere = await env.send("acme", sender="marketing")
    rejected = await env.status(nowhere, "rejected")
    assert rejected["error"]["code"] == "unknown_sender"

    # --- events carry the session's name ------------------------------------------------------
    def in_chat(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        found = {
            e["sessionName"]: e
            for e in events
            if e["tenantId"] == "acme" and e.get("status") == "inChat"
        }
        return found if len(found) == 2 else {}

    states = in_chat(await env.records(env.settings.topic_whatsapp_state, in_chat))
    assert states["sales"]["session"] == "tenant-acme@sales"
    assert states["sales"]["phone"] == SALES_PHONE
    assert states["support"]["session"] == "tenant-acme"
    assert states["support"]["phone"] == SUPPORT_PHONE
    await env.sim.incoming(SALES_PHONE, "5511944445555", "price list?")
    [inbound] = await env.records(
        env.settings.topic_whatsapp_inbound, lambda es: [e for e in es if e["tenantId"] == "acme"]
    )
    assert (inbound["sessionName"], inbound["body"]) == ("sales", "price list?")

    # --- the endpoints select a session with ?session= ----------------------------------------
    default_view = (await env.get("/webhooks/wppconnect/session/acme")).json()
    assert (default_view["sessionName"], default_view["phone"]) == ("support", SUPPORT_PHONE)
    sales_view = (await env.get("/webhooks/wppconnect/session/acme?session=sales")).json()
    assert (sales_view["sessionName"], sales_view["phone"]) == ("sales", SALES_PHONE)
    assert sales_view["session"] == "tenant-acme@sales"
    unknown = await env.get("/webhooks/wppconnect/session/acme?session=marketing")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_session"
    # Its own lease and session hash, hash-tagged by the tenant.
    assert await env.redis.exists("wppconnect:lease:{acme}@sales")
    assert await env.redis.exists("wppconnect:session:acme@sales")

    # One setup (two workers, Chromium) for both stories: they take a minute each.
    await a_login_by_another_number_is_reported_and_logged_out(env)


async def a_login_by_another_number_is_reported_and_logged_out(env: Env) -> None:
    waiting = await env.send("globex")
    qr = await env.qr("globex", "main")
    await env.sim.scan(qr["urlCode"], STRANGER_PHONE)  # not the phoneNumberId
    failed = await env.status(waiting, "failed")
    assert failed["error"]["code"] == "session_wrong_number"
    assert failed["error"]["retryable"] is True

    def reported(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e["tenantId"] == "globex" and e.get("status") == "wrongNumber"]

    [event] = reported(await env.records(env.settings.topic_whatsapp_state, reported))
    assert event["sessionName"] == "main"
    assert STRANGER_PHONE in event["detail"]
    assert message_count_from(env.sim, STRANGER_PHONE) == 0
    # The right number pairs on the next message's QR code, and it goes out.
    retry = await env.send("globex")
    fresh = [
        e
        for e in await env.records(
            env.settings.topic_whatsapp_qr,
            lambda es: len([e for e in es if e["tenantId"] == "globex"]) >= 2,
        )
        if e["tenantId"] == "globex"
    ][-1]
    await env.sim.scan(fresh["urlCode"], SUPPORT_PHONE)
    message = env.sim.message((await env.status(retry, "sent"))["providerMessageId"])
    assert message is not None
    assert message.from_phone == SUPPORT_PHONE


def message_count_from(sim: WhatsAppWebSimulator, phone: str) -> int:
    return len([m for m in sim.messages if m.from_phone == phone])
