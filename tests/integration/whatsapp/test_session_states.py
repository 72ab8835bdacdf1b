"""Every waiting message ends: session states driven through the WhatsApp Web simulator.

In-process dispatch (``DispatchProcessor``) through a real ``SessionManager`` on real
headless Chromium with the wa-js bridge, against the simulator, with real Redis; status
events go to a memory sink. Each story pairs a session (or not), puts it in one state
through the simulator's phone API, queues messages, and asserts the final status of
every one of them: none is left waiting.

The last test checks the bridge itself in Chromium: it subscribes to wa-js events once
per document whatever ``WPP.isReady`` does and however often reading the page throws.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.async_api import async_playwright
from redis.asyncio import Redis

from providers.wppconnect import BINDING_NAME, BRIDGE_JS
from sandbox import serve_app
from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import Settings, Status, StatusEvent
from seeds import load_seeds
from streams.pipeline.decode import RawRecord
from streams.pipeline.state import NotificationState
from streams.pipeline.updates import StatusUpdater
from streams.platform.sink import MemorySink
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.whatsapp import DispatchProcessor, SessionManager
from streams.whatsapp.browser import BrowserLauncher, find_chromium
from streams.whatsapp.events import MemoryWhatsAppSink, SessionEvents
from streams.whatsapp.store import SessionStore
from tests.browser import require_chromium
from tests.helpers import make_settings, new_secret_key
from tests.integration.whatsapp.rig import wppconnect_request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PHONE = "5511988887777"
FINAL = {Status.SENT, Status.FAILED}


@dataclass
class Env:
    sim: WhatsAppWebSimulator
    settings: Settings
    manager: SessionManager
    dispatcher: DispatchProcessor
    sink: MemorySink
    wa: MemoryWhatsAppSink
    offsets: itertools.count[int]

    async def send(self, tenant: str = "acme", to: str = "5511999990001") -> str:
        nid = f"n-{uuid.uuid4().hex[:12]}"
        request = wppconnect_request(nid, tenant, to, f"message {nid}")
        record = RawRecord(
            key=tenant.encode(),
            value=orjson.dumps(request),
            topic="whatsapp.dispatch",
            partition=0,
            offset=next(self.offsets),
        )

        async def done() -> None:
            return None

        await self.dispatcher.submit(record, done)
        return nid

    async def outcome(self, nid: str, timeout: float = 60) -> StatusEvent:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            events = await self.sink.wait_for(lambda s: [e for e in s.of(nid) if e.status in FINAL])
        return events[-1]

    async def pair(self, tenant: str = "acme") -> None:
        first = await self.send(tenant)
        async with asyncio.timeout(60):
            qr = await self.wa.wait_for(lambda w: [q for q in w.qrs if q.tenant_id == tenant])
        await self.sim.scan(qr[-1].url_code, PHONE)
        assert (await self.outcome(first)).status == Status.SENT

    async def state(self, state: str) -> None:
        async with asyncio.timeout(60):
            await self.wa.wait_for(
                lambda w: any(e.state is not None and e.state.value == state for e in w.states)
            )


EnvFactory = Callable[..., Awaitable[Env]]


@pytest.fixture
async def make_env(redis: Redis, tmp_path: Path) -> AsyncIterator[EnvFactory]:
    require_chromium()
    await load_seeds(redis)
    opened: list[tuple[Env, BrowserLauncher, Any]] = []

    async def make(sim: WhatsAppWebSimulator, **overrides: Any) -> Env:
        server = serve_app(sim.app, port=0)
        url = await server.__aenter__()
        settings = make_settings(
            whatsapp_web_url=url,
            wppconnect_enabled=True,
            wppconnect_token_folder=str(tmp_path / "profiles"),
            wppconnect_call_timeout_seconds=30.0,
            wppconnect_send_rate=0,
            wppconnect_watchdog_interval_ms=0,
            secret_key=new_secret_key(),
            **overrides,
        )
        cipher = Cipher.from_settings(settings)
        await IntegrationStore(redis, cipher).set(
            "acme", "wppconnect", {"sessionName": "acme", "phoneNumberId": "p"}, is_default=True
        )
        sink, wa = MemorySink(), MemoryWhatsAppSink()
        state = NotificationState(redis, ttl_seconds=3600, correlation_ttl_seconds=3600)
        lookups = LookupsService(redis)
        await lookups.load()
        launcher = BrowserLauncher(settings)
        manager = SessionManager(
            settings,
            driver_factory=launcher.factory,
            listener=SessionEvents(SessionStore(redis), wa, StatusUpdater(state, sink)),
        )
        dispatcher = DispatchProcessor(
            settings=settings,
            state=state,
            lookups=lookups,
            integrations=IntegrationStore(redis, cipher),
            sessions=manager,
            sink=sink,
        )
        env = Env(sim, settings, manager, dispatcher, sink, wa, itertools.count())
        opened.append((env, launcher, server))
        return env

    try:
        yield make
    finally:
        for env, launcher, server in opened:
            env.dispatcher.stopping = True
            await env.manager.close_all()
            await env.dispatcher.inflight.drain(timeout=10)
            await launcher.stop()
            await env.sim.close()
            await server.__aexit__(None, None, None)


def failed_with(event: StatusEvent, code: str) -> bool:
    return (
        event.status == Status.FAILED
        and event.error is not None
        and event.error.code == code
        and event.error.retryable
    )


async def test_conflict_without_takeover_fails_waiting_messages_after_its_deadline(
    make_env: EnvFactory,
) -> None:
    env = await make_env(WhatsAppWebSimulator(qr_interval=60), wppconnect_conflict_timeout_ms=1500)
    await env.pair()
    assert await env.sim.conflict(PHONE) == 1  # WhatsApp Web opened elsewhere
    await env.state("CONFLICT")
    waiting = [await env.send() for _ in range(3)]
    for nid in waiting:
        event = await env.outcome(nid)
        assert failed_with(event, "session_conflict"), event
        assert [e.status for e in env.sink.of(nid)] == [Status.FAILED]
    # The state is reported again with the outcome; the session stays open, no takeover.
    assert any(e.detail and "waiting messages fail" in e.detail for e in env.wa.states)
    session = env.manager.get("acme")
    assert session is not None
    assert session.running
    assert [s.live for s in env.sim.sessions() if s.phone == PHONE] == [0]
    assert len(env.sim.sent(from_=PHONE)) == 1  # only the message sent before the conflict


async def test_a_timeout_that_keeps_coming_back_ends_in_session_failed(
    make_env: EnvFactory,
) -> None:
    env = await make_env(
        WhatsAppWebSimulator(qr_interval=60, reconnect_delay=0.2),
        wppconnect_max_reconnects=2,
        wppconnect_reconnect_max_delay_seconds=0.5,
    )
    await env.pair()
    await env.sim.disconnect(PHONE, seconds=3600)  # the phone stays offline
    await env.state("TIMEOUT")
    waiting = [await env.send() for _ in range(2)]
    for nid in waiting:
        assert failed_with(await env.outcome(nid), "session_failed")
    statuses = env.wa.statuses("acme")
    assert statuses[-2:] == ["sessionFailed", "browserClose"]


async def test_an_expired_qr_is_refreshed_until_auto_close_then_waiting_messages_fail(
    make_env: EnvFactory,
) -> None:
    # One code per rotation, 0.7 s each: without refreshQR the page would sit UNPAIRED_IDLE.
    sim = WhatsAppWebSimulator(qr_interval=0.7, max_codes=1)
    env = await make_env(sim, wppconnect_auto_close_ms=5000)
    waiting = [await env.send() for _ in range(2)]
    for nid in waiting:
        assert failed_with(await env.outcome(nid), "session_not_authenticated")
    attempts = [q.attempts for q in env.wa.qrs if q.tenant_id == "acme"]
    assert len(attempts) >= 3, attempts  # codes refreshed after each UNPAIRED_IDLE
    assert attempts == sorted(attempts)
    assert any(e.state is not None and e.state.value == "UNPAIRED_IDLE" for e in env.wa.states)
    assert env.wa.statuses("acme")[-2:] == ["autocloseCalled", "browserClose"]


async def test_a_device_whatsapp_refuses_fails_waiting_messages_at_once(
    make_env: EnvFactory,
) -> None:
    env = await make_env(WhatsAppWebSimulator(qr_interval=60))
    await env.pair()
    assert await env.sim.block(PHONE, "TOS_BLOCK") == 1
    await env.state("TOS_BLOCK")
    for nid in [await env.send() for _ in range(2)]:
        assert failed_with(await env.outcome(nid), "session_blocked")


async def test_a_retry_after_from_the_session_worker_sets_the_next_attempt(
    make_env: EnvFactory,
) -> None:
    env = await make_env(
        WhatsAppWebSimulator(qr_interval=60),
        retry_base_delay_seconds=0.05,  # the backoff alone would retry within 50 ms
        retry_max_delay_seconds=300,
    )
    await env.pair()
    env.sim.refuse("mex_client_not_available")  # WhatsApp refuses the next send for now
    nid = await env.send(to="5511999990002")  # a chat the page has not looked up yet
    event = await env.outcome(nid)
    assert event.status == Status.SENT
    assert env.sim.refusals == []  # the refusal was used by this send
    retrying = [e for e in env.sink.of(nid) if e.status == Status.RETRYING]
    assert len(retrying) == 1
    first = retrying[0]
    assert first.error is not None
    assert (first.error.code, first.error.retryable) == ("provider_unavailable", True)
    assert first.next_attempt_at is not None
    wait = (first.next_attempt_at - first.timestamp).total_seconds()
    assert 4.5 <= wait <= 5.5, wait  # retry_after (5 s), not the 50 ms backoff
    assert (event.timestamp - first.timestamp).total_seconds() >= 4.5
    assert len(env.sim.sent(from_=PHONE)) == 2  # the pairing message and this one, once


_STUB = """<!doctype html><script>
  const listeners = {};
  let reads = 0;
  window.WPP = {
    isReady: false,
    on(name, fn) { (listeners[name] = listeners[name] || []).push(fn); },
    emit(name, payload) { for (const fn of listeners[name] || []) fn(payload); },
    count(name) { return (listeners[name] || []).length; },
    conn: {
      isAuthenticated() { if (++reads < 8) throw new Error('still loading'); return true; },
      isMainReady: () => true,
    },
    whatsapp: { Socket: { state: 'CONNECTED', on() {} } },
  };
  // isReady flips on, off and on again while reading the page's state throws.
  let flips = 0;
  const timer = setInterval(() => {
    window.WPP.isReady = !window.WPP.isReady;
    if (++flips === 9) { window.WPP.isReady = true; clearInterval(timer); }
  }, 60);
</script>"""


async def test_the_bridge_subscribes_once_per_document() -> None:
    require_chromium()
    received: list[tuple[str, Any]] = []
    ready, message = asyncio.Event(), asyncio.Event()

    def binding(_source: Any, name: str, payload: Any = None) -> None:
        received.append((name, payload))
        if name == "bridge.ready":
            ready.set()
        elif name == "chat.new_message":
            message.set()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=find_chromium(None))
        try:
            context = await browser.new_context()
            await context.expose_binding(BINDING_NAME, binding)
            await context.add_init_script(script=BRIDGE_JS)
            page = await context.new_page()
            await page.route(
                "http://bridge.test/", lambda r: r.fulfill(body=_STUB, content_type="text/html")
            )
            await page.goto("http://bridge.test/")
            async with asyncio.timeout(20):
                await ready.wait()
            await page.wait_for_function("() => window.WPP.isReady")  # the flipping is over
            counts = await page.evaluate(
                "() => ['chat.new_message', 'conn.logout', 'chat.msg_ack_change']"
                ".map((n) => window.WPP.count(n))"
            )
            assert counts == [1, 1, 1]
            await page.evaluate(
                "() => window.WPP.emit('chat.new_message', {id: {_serialized: 'm1'}, type: 'chat'})"
            )
            async with asyncio.timeout(10):
                await message.wait()
            messages = [p for n, p in received if n == "chat.new_message"]
            assert [m["id"] for m in messages] == ["m1"]
            assert [n for n, _ in received].count("bridge.ready") == 1
        finally:
            await browser.close()
