"""The simulator's linking without a browser: pairing codes (link by phone number) and
failed scans, over the page protocol spoken by a script and the phone API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from sandbox.whatsapp_web import WhatsAppWebSimulator
from sandbox.whatsapp_web._protocol import format_full_code
from tests.unit.providers.test_whatsapp_web_simulator import (
    KEYS,
    PHONE,
    Env,
    ScriptedPage,
    open_page,
    pair,
    spki,
)

#: WhatsApp's pairing-code alphabet, as phones and Baileys know it (no 0, I, O, U).
ALPHABET = set("123456789ABCDEFGHJKLMNPQRSTVWXYZ")


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    sim = WhatsAppWebSimulator(qr_interval=30, max_codes=2, link_code_ttl=60)
    async with Env.serving(sim) as served:
        yield served


async def unpaired(env: Env) -> ScriptedPage:
    page = await open_page(env)
    await page.send({"type": "hello", "deviceId": None, "keys": KEYS})
    await page.next("ref")
    return page


async def test_a_pairing_code_links_the_page_that_asked_for_it(env: Env) -> None:
    page = await unpaired(env)
    answer = await page.request({"type": "link-code", "phone": PHONE})
    assert answer["ok"] is True
    code = answer["code"]
    assert len(code) == 8
    assert set(code) <= ALPHABET
    listed = (await env.http.get("/phone/pending-codes")).json()["linkCodes"]
    assert [(c["code"], c["phone"]) for c in listed] == [(f"{code[:4]}-{code[4:]}", PHONE)]

    # Another phone, or another code: the phone says the code is wrong.
    other_phone = await env.http.post(
        "/phone/link-code", json={"code": code, "phone": "5511911112222"}
    )
    assert (other_phone.status_code, other_phone.json()["reason"]) == (404, "wrong_code")
    wrong = "".join(sorted(ALPHABET - set(code)))[:8]
    refused = await env.http.post("/phone/link-code", json={"code": wrong, "phone": PHONE})
    assert (refused.status_code, refused.json()["reason"]) == (404, "wrong_code")
    bad = await env.http.post("/phone/link-code", json={"code": "12", "phone": PHONE})
    assert bad.status_code == 400

    # The right phone enters it (as phones show it, lower case is fine): linked as by a scan.
    entering = asyncio.ensure_future(
        env.http.post(
            "/phone/link-code", json={"code": f"{code[:4]}-{code[4:]}".lower(), "phone": PHONE}
        )
    )
    paired = await page.next("paired")
    assert paired["phone"] == PHONE
    await page.send(
        {
            "type": "register",
            "deviceId": paired["deviceId"],
            "publicKey": spki(page.key),
            "signature": page.sign(),
        }
    )
    assert (await page.next("connected"))["deviceId"] == paired["deviceId"]
    linked = await entering
    assert linked.status_code == 200
    assert linked.json()["deviceId"] == paired["deviceId"]
    assert env.sim.pending_link_codes() == []
    again = await env.http.post("/phone/link-code", json={"code": code, "phone": PHONE})
    assert again.status_code == 404  # used once


async def test_an_expired_code_is_refused_as_expired(env: Env) -> None:
    env.sim.link_code_ttl = 0.2
    page = await unpaired(env)
    code = (await page.request({"type": "link-code", "phone": PHONE}))["code"]
    async with asyncio.timeout(5):
        await env.sim.wait_for(lambda: code in env.sim.expired_link_codes)
    late = await env.http.post("/phone/link-code", json={"code": code, "phone": PHONE})
    assert (late.status_code, late.json()["reason"]) == (410, "expired")


async def test_a_new_code_replaces_the_pages_previous_one(env: Env) -> None:
    page = await unpaired(env)
    first = (await page.request({"type": "link-code", "phone": PHONE}))["code"]
    second = (await page.request({"type": "link-code", "phone": PHONE}))["code"]
    assert [c.code for c in env.sim.pending_link_codes()] == [second]
    old = await env.http.post("/phone/link-code", json={"code": first, "phone": PHONE})
    assert (old.status_code, old.json()["reason"]) == (404, "wrong_code")


async def test_only_unpaired_pages_get_codes_and_only_for_phone_numbers(env: Env) -> None:
    page = await unpaired(env)
    bad = await page.request({"type": "link-code", "phone": "12"})
    assert (bad["ok"], bad["error"]["code"]) == (False, "invalid_phone_number")
    linked = await open_page(env)
    await pair(env, linked)
    refused = await linked.request({"type": "link-code", "phone": PHONE})
    assert refused["error"]["code"] == "cannot_get_code_for_already_authenticated"


async def test_the_phone_can_fail_a_scan_and_the_page_shows_a_new_code(env: Env) -> None:
    page = await open_page(env)
    await page.send({"type": "hello", "deviceId": None, "keys": KEYS})
    ref = (await page.next("ref"))["ref"]
    code = format_full_code(ref, *KEYS.values())
    failed = await env.http.post("/phone/scan", json={"code": code, "phone": PHONE, "fail": True})
    assert failed.status_code == 200
    assert failed.json() == {"linked": False, "reason": "pairing_failed"}
    assert (await page.next("pair-failed"))["reason"] == "pairing_failed"
    assert (await page.next("ref"))["ref"] != ref
    assert env.sim.devices == {}
