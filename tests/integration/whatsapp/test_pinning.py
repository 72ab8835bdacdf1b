"""A pinned WhatsApp Web build, outdated builds, a proxy per session, and ``@lid`` chats.

Real headless Chromium with the wa-js bridge against the WhatsApp Web simulator, through
the same in-process dispatch as test_session_states.py (its ``make_env``). The pinned
builds are the simulator's own page under another ``<meta name="wa-version">``, placed in
the cache where ``herald whatsapp install`` puts them (the install itself is tested in
tests/unit/whatsapp/test_install.py); the simulator refuses builds older than its
``min_version`` as WhatsApp refuses outdated clients.
"""

from __future__ import annotations

import asyncio
import logging
import re
from importlib import resources
from pathlib import Path

import pytest
from redis.asyncio import Redis

from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import Status
from schemas.whatsapp import ConnectionState, SessionStatus
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from tests.integration.whatsapp.test_session_states import (  # noqa: F401 (the fixture)
    PHONE,
    Env,
    EnvFactory,
    failed_with,
    make_env,
)
from tests.proxy import RecordingProxy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SIM_PAGE = (resources.files("sandbox.whatsapp_web") / "static" / "index.html").read_text()


def pin(cache: Path, version: str) -> None:
    """The simulator's page as WhatsApp Web build ``version``, where the install puts it."""
    page = re.sub(r'(<meta name="wa-version" content=")[^"]*', rf"\g<1>{version}", SIM_PAGE)
    page = page.replace("<head>", '<head>\n<meta name="herald-test-pinned" content="yes">', 1)
    (cache / "whatsapp-web").mkdir(parents=True, exist_ok=True)
    (cache / "whatsapp-web" / f"{version}.html").write_text(page)


async def pinned_env(make: EnvFactory, cache: Path, version: str, min_version: str) -> Env:
    """An env whose page is WhatsApp Web build ``version``, pinned in ``cache``, against a
    simulator that refuses builds older than ``min_version``."""
    pin(cache, version)
    return await make(
        WhatsAppWebSimulator(qr_interval=60, min_version=min_version),
        whatsapp_web_version=version,
        whatsapp_cache_dir=str(cache),
    )


async def status_with(env: Env, status: SessionStatus) -> str:
    async with asyncio.timeout(60):
        found = await env.wa.wait_for(lambda w: [e for e in w.states if e.status == status])
    return found[-1].detail or ""


async def test_the_pinned_build_is_served_and_sends_go_out(
    make_env: EnvFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = await pinned_env(make_env, tmp_path / "cache", "2.3000.2000000000", "2.3000.1500000000")
    await env.pair()  # a message went out through the pinned page
    session = env.manager.get("acme")
    assert session is not None
    assert session._driver is not None
    page = session._driver.page  # type: ignore[attr-defined]
    assert await page.evaluate("document.querySelector('meta[name=herald-test-pinned]') !== null")
    assert await page.evaluate("window.Debug.VERSION") == "2.3000.2000000000"
    # Without the pin the simulator's own page (2.3000.1000000000) would be refused.
    assert not any(e.state == ConnectionState.DEPRECATED_VERSION for e in env.wa.states)


async def test_an_outdated_pinned_build_stops_the_session_and_names_the_pin(
    make_env: EnvFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = await pinned_env(make_env, tmp_path / "cache", "2.3000.1000000001", "2.3000.2000000000")
    nid = await env.send()
    event = await env.outcome(nid)
    assert failed_with(event, "session_outdated"), event
    detail = await status_with(env, SessionStatus.SESSION_FAILED)
    assert "2.3000.1000000001 (WHATSAPP_WEB_VERSION) is outdated" in detail
    assert "herald whatsapp install" in detail
    session = env.manager.get("acme")
    assert session is None or not session.running
    assert env.sim.pending_codes() == []  # the refused page never showed a QR code


async def test_an_outdated_unpinned_page_is_reloaded_once_then_stopped(
    make_env: EnvFactory,  # noqa: F811
) -> None:
    env = await make_env(WhatsAppWebSimulator(qr_interval=60, min_version="2.3000.2000000000"))
    nid = await env.send()
    event = await env.outcome(nid)
    assert failed_with(event, "session_outdated"), event
    detail = await status_with(env, SessionStatus.SESSION_FAILED)
    assert "upgrade wa-js" in detail
    states = [e.state for e in env.wa.states if e.state is not None]
    assert ConnectionState.DEPRECATED_VERSION in states


async def test_sends_to_a_chat_addressed_by_lid_keep_their_acks(
    make_env: EnvFactory,  # noqa: F811
) -> None:
    env = await make_env(WhatsAppWebSimulator(qr_interval=60))
    await env.pair()
    to = "5511999990042"
    lid = env.sim.use_lid(to, "207000000000042")
    for _ in range(2):  # the first resolves the LID, the second goes to it at once
        nid = await env.send(to=to)
        sent = await env.outcome(nid)
        assert sent.status == Status.SENT, sent
        assert sent.provider_message_id is not None
        assert sent.provider_message_id.startswith(f"true_{lid}_3EB0")
        await env.sim.ack(sent.provider_message_id, 3)  # READ, as the phone reports it
        async with asyncio.timeout(30):
            read = await env.sink.wait_for(
                lambda s, nid=nid: [e for e in s.of(nid) if e.status == Status.READ]
            )
        assert read[-1].provider_message_id == sent.provider_message_id
    messages = env.sim.sent(to=to)
    assert [m.chat_id for m in messages] == [lid, lid]  # each message once, on the LID chat


async def test_a_session_goes_through_its_proxy_and_the_password_is_never_logged(
    make_env: EnvFactory,  # noqa: F811
    redis: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = "pr0xy-s3cret-Zq7"
    caplog.set_level(logging.DEBUG)
    async with RecordingProxy("acme-proxy", password) as proxy:
        env = await make_env(WhatsAppWebSimulator(qr_interval=60))
        store = IntegrationStore(redis, Cipher.from_settings(env.settings))
        credentials = {
            "sessionName": "acme",
            "phoneNumberId": "p",
            "proxy": {"server": proxy.url, "username": "acme-proxy", "password": password},
        }
        await store.set("acme", "wppconnect", credentials, is_default=True)
        await env.pair()
        sim_host = env.settings.whatsapp_web_url.removeprefix("http://").rstrip("/")
        through = [r for r in proxy.requests if sim_host in r.target]
        assert any(r.method == "GET" and r.authorized for r in through), proxy.requests
        assert any(r.method == "CONNECT" and r.authorized for r in through)  # the WebSocket
        assert any(not r.authorized for r in proxy.requests)  # the browser was challenged
    assert password not in caplog.text
