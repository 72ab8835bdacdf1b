"""Link by phone number through the public contract, end to end.

Real ``herald worker`` processes (router + whatsapp), headless Chromium with the wa-js
bundle and Herald's bridge, the WhatsApp Web simulator as WhatsApp and its phone API, the
embedded broker and redis-server. One story per setup (worker and browser starts cost
seconds): a waiting message, a pairing code asked over HTTP, read from the answer and from
``whatsapp.qr``, entered on the phone, the message sent; a wrong and an expired code; a
scan the phone fails (``qrReadFail`` on ``whatsapp.state``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.whatsapp_web import WhatsAppWebSimulator
from tests.integration.whatsapp.rig import RigStarter, support_sessions
from tests.integration.whatsapp.test_whatsapp_e2e import Env, statuses_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TENANTS = ("acme", "globex", "initech")
ACME_PHONE = "5511999990001"
CUSTOMER = "+55 11 98888-0002"


@pytest_asyncio.fixture
async def env(start_rig: RigStarter) -> AsyncIterator[Env]:
    sim = WhatsAppWebSimulator(qr_interval=60)
    async with start_rig(
        Env,
        sim,
        support_sessions(TENANTS),
        wppconnect_call_timeout_seconds=30.0,
        wppconnect_send_rate=0,
        topic_partitions=2,
    ) as env:
        yield env


async def ask_code(env: Env, tenant: str, body: Any, key: str | None = "own") -> httpx.Response:
    token = env.keys[tenant] if key == "own" else key
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=env.router.url, timeout=120) as client:
        return await client.post(
            f"/webhooks/wppconnect/session/{tenant}/pairing-code", json=body, headers=headers
        )


async def on_phone(env: Env, path: str, body: dict[str, Any]) -> httpx.Response:
    """The simulator's phone API (``POST /phone/...``)."""
    async with httpx.AsyncClient(base_url=env.settings.whatsapp_web_url, timeout=30) as phone:
        return await phone.post(path, json=body)


async def enter(env: Env, code: str, phone: str) -> httpx.Response:
    return await on_phone(env, "/phone/link-code", {"code": code, "phone": phone})


async def test_link_by_phone_number_then_the_waiting_message_goes_out(env: Env) -> None:
    s = env.settings
    # The endpoint's guard is the other session endpoints': key, tenant, body.
    assert (await ask_code(env, "acme", {"phone": f"+{ACME_PHONE}"}, key=None)).status_code == 401
    other = await ask_code(env, "acme", {"phone": f"+{ACME_PHONE}"}, key=env.keys["globex"])
    assert other.status_code == 403
    assert (await ask_code(env, "acme", {"phone": "12"})).status_code == 400
    assert (await ask_code(env, "acme", {"number": ACME_PHONE})).status_code == 400

    waiting = await env.send("acme", phone=CUSTOMER)
    answer = await ask_code(env, "acme", {"phone": f"+{ACME_PHONE}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert set(body) == {"pairingCode", "expiresAt"}
    code = body["pairingCode"]
    assert len(code) == 9
    assert code[4] == "-"
    assert datetime.fromisoformat(body["expiresAt"]) > datetime.now().astimezone()

    # The same code on whatsapp.qr, keyed by tenant, without a QR code.
    def codes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e["tenantId"] == "acme" and e.get("pairingCode")]

    [pairing] = codes(await env.records(s.topic_whatsapp_qr, codes))
    assert pairing["pairingCode"] == code
    assert pairing["phone"] == ACME_PHONE
    assert pairing["session"] == "tenant-acme"
    assert pairing["sessionName"] == "acme-support"
    assert "qrCode" not in pairing
    assert "urlCode" not in pairing
    # The simulated phone's view of it.
    [pending] = env.sim.pending_link_codes()
    assert (pending.phone, f"{pending.code[:4]}-{pending.code[4:]}") == (ACME_PHONE, code)
    events = await env.statuses(waiting, "accepted")
    assert [e["status"] for e in events] == ["accepted"]  # still waiting for the link

    # A wrong code: the phone refuses it, nothing is linked.
    wrong = await enter(env, "ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ" else "YYYY-YYYY", ACME_PHONE)
    assert (wrong.status_code, wrong.json()["reason"]) == (404, "wrong_code")
    assert env.sim.devices == {}

    # The right code on the right phone: linked, as after a QR scan; the message goes out.
    linked = await enter(env, code, ACME_PHONE)
    assert linked.status_code == 200, linked.text
    events = await env.statuses(waiting, "sent")
    assert [e["status"] for e in events] == ["accepted", "sent"]
    message = env.sim.message(events[-1]["providerMessageId"])
    assert message is not None
    assert (message.from_phone, message.to) == (ACME_PHONE, "5511988880002")
    states = await env.states("acme", lambda es: "inChat" in statuses_of(es))
    assert statuses_of(states) == ["notLogged", "qrReadSuccess", "inChat"]
    # A linked session has no code to give.
    again = await ask_code(env, "acme", {"phone": f"+{ACME_PHONE}"})
    assert (again.status_code, again.json()["code"]) == (409, "already_linked")

    # --- an expired code: the phone refuses it as expired ------------------------------------
    env.sim.link_code_ttl = 1.0
    late = await ask_code(env, "globex", {"phone": "+5511977770003"})
    assert late.status_code == 200, late.text
    late_code = late.json()["pairingCode"]
    async with asyncio.timeout(30):
        await env.sim.wait_for(lambda: late_code.replace("-", "") in env.sim.expired_link_codes)
    expired = await enter(env, late_code, "5511977770003")
    assert (expired.status_code, expired.json()["reason"]) == (410, "expired")
    assert all(d.phone != "5511977770003" for d in env.sim.devices.values())

    # --- a scan the phone fails: qrReadFail on the wire, then a new QR that works ------------
    failing = await env.send("initech", phone=CUSTOMER)
    qrs = await env.records(
        s.topic_whatsapp_qr, lambda es: any(e["tenantId"] == "initech" for e in es)
    )
    first_qr = next(e for e in qrs if e["tenantId"] == "initech")
    scan = {"code": first_qr["urlCode"], "phone": "5511966660004", "fail": True}
    failed = await on_phone(env, "/phone/scan", scan)
    assert failed.json() == {"linked": False, "reason": "pairing_failed"}
    states = await env.states("initech", lambda es: "qrReadFail" in statuses_of(es))
    assert statuses_of(states) == ["notLogged", "qrReadFail"]
    qrs = await env.records(
        s.topic_whatsapp_qr,
        lambda es: len([e for e in es if e["tenantId"] == "initech" and e.get("urlCode")]) >= 2,
    )
    retry = [e for e in qrs if e["tenantId"] == "initech" and e.get("urlCode")][-1]
    assert retry["urlCode"] != first_qr["urlCode"]
    await env.sim.scan(retry["urlCode"], "5511966660004")
    assert (await env.statuses(failing, "sent"))[-1]["status"] == "sent"
