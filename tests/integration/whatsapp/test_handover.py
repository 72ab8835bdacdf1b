"""Hand-over between WhatsApp workers (slow): 20 tenants, a worker joins, a worker is killed.

Real ``herald worker`` processes (a router and whatsapp workers, each with its own
profile folder, as on separate machines), real headless Chromium, the WhatsApp Web
simulator, the embedded broker and redis-server, the redis token store.

1. Two whatsapp workers; 20 tenants each send a message and pair by QR.
2. A third worker joins: the partitions it takes are handed over (archive, close,
   release); every tenant's next message goes out, through its owner, with no QR.
3. One worker is killed (SIGKILL): its leases expire, the others take its partitions and
   restore the sessions; every tenant's next message goes out, with no QR.

Throughout: no message lost or sent twice (the simulator keeps every message), and never
two live sessions of one tenant at once (the simulator's ``maxConcurrent``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import pytest
from redis.asyncio import Redis

from sandbox import serve_app
from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import Settings
from streams.whatsapp.lease import lease_key
from streams.whatsapp.tokens import token_key
from tests.browser import require_chromium
from tests.helpers import WorkerProcess, consume_until, produce_many
from tests.integration.whatsapp.rig import (
    moving_session_settings,
    support_sessions,
    wppconnect_request,
)
from tests.whatsapp_web import seed_integrations

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

TENANTS = [f"t{n:02d}" for n in range(20)]
PHONE = {t: f"55119000000{n:02d}" for n, t in enumerate(TENANTS)}
RECIPIENT = "5511999990001"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _tree_memory(pids: list[int]) -> int:
    """PSS of the workers and everything under them (Playwright, Chromium), bytes."""
    total = 0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for process in processes:
            try:
                total += process.memory_full_info().pss
            except psutil.Error:
                continue
    return total


class Story:
    def __init__(self, settings: Settings, sim: WhatsAppWebSimulator, redis: Redis) -> None:
        self.settings = settings
        self.sim = sim
        self.redis = redis
        self.workers: dict[str, WorkerProcess] = {}
        self.peak_memory = 0

    async def send_round(self, label: str) -> dict[str, str]:
        ids = {t: f"{label}-{t}-{uuid.uuid4().hex[:8]}" for t in TENANTS}
        records = [
            (
                t,
                orjson.dumps(wppconnect_request(ids[t], t, RECIPIENT, f"{label} for {t}")),
            )
            for t in TENANTS
        ]
        await produce_many(self.settings, self.settings.topic_requests, records)
        return ids

    async def records(
        self,
        topic: str,
        until: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 240,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        found = await consume_until(
            self.settings, topic, lambda rs: until([orjson.loads(r.value) for r in rs]), timeout
        )
        return [orjson.loads(r.value) for r in found]

    async def all_sent(self, ids: dict[str, str]) -> list[dict[str, Any]]:
        wanted = set(ids.values())

        def done(events: list[dict[str, Any]]) -> bool:
            return wanted <= {e["notificationId"] for e in events if e["status"] == "sent"}

        events = await self.records(self.settings.topic_status, done)
        return [e for e in events if e["notificationId"] in wanted]

    async def owners(self) -> dict[str, str]:
        """tenant -> the worker (by name) holding its lease."""
        by_pid = {str(w.pid): name for name, w in self.workers.items()}
        found = {}
        for tenant in TENANTS:
            owner = await self.redis.hget(lease_key(tenant), "owner")
            if owner is not None:
                found[tenant] = by_pid.get(_text(owner).split(":")[1], _text(owner))
        return found

    async def sample_memory(self) -> None:
        pids = [w.pid for w in self.workers.values() if w.running and w.pid]
        self.peak_memory = max(self.peak_memory, _tree_memory([p for p in pids if p]))

    def check_sessions(self) -> None:
        stats = {s.phone: s for s in self.sim.sessions()}
        assert set(PHONE.values()) <= set(stats)
        for phone in PHONE.values():
            assert stats[phone].max_concurrent == 1, stats[phone]
            assert stats[phone].max_live == 1, stats[phone]

    def check_messages(self, rounds: int) -> None:
        for tenant, phone in PHONE.items():
            bodies = sorted(m.body or "" for m in self.sim.sent(from_=phone))
            expected = sorted(f"{label} for {tenant}" for label in ("one", "two", "three")[:rounds])
            assert bodies == expected, (tenant, bodies)


async def test_sessions_move_between_workers_with_no_qr_no_loss_no_duplicate(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    redis: Redis,
    tmp_path: Path,
) -> None:
    require_chromium()
    started = time.monotonic()
    sim = WhatsAppWebSimulator(qr_interval=120)
    async with serve_app(sim.app, port=0) as url:
        settings = moving_session_settings(
            settings_factory,
            url,
            wppconnect_lease_ttl_ms=10000,
            wppconnect_watchdog_interval_ms=5000,
            wppconnect_call_timeout_seconds=60.0,
            topic_partitions=6,
            send_max_attempts=10,
        )
        sessions = support_sessions(TENANTS, phone_number_id=lambda tenant: f"wpp-{tenant}")
        await seed_integrations(redis, settings, sessions)
        story = Story(settings, sim, redis)

        async def whatsapp_worker(name: str) -> WorkerProcess:
            folder = tmp_path / f"profiles-{name}"  # each worker its own disk
            worker: WorkerProcess = await worker_factory(
                settings,
                role="whatsapp",
                extra_env={"WHATSAPP_WPPCONNECT_TOKEN_FOLDER": str(folder)},
            )
            story.workers[name] = worker
            return worker

        await worker_factory(settings)  # the router
        await whatsapp_worker("wa1")
        await whatsapp_worker("wa2")

        # --- 1. twenty tenants pair by QR ------------------------------------------------
        first = await story.send_round("one")
        qrs = await story.records(
            settings.topic_whatsapp_qr, lambda es: {e["tenantId"] for e in es} >= set(TENANTS)
        )
        for event in {e["tenantId"]: e for e in qrs}.values():
            await sim.scan(event["urlCode"], PHONE[event["tenantId"]])
        await story.all_sent(first)
        paired = time.monotonic()
        await story.sample_memory()
        # Every session is archived (after-login snapshot) before anything moves.
        await _wait_for_keys(redis, [token_key(t) for t in TENANTS])
        before = await story.owners()
        assert set(before) == set(TENANTS)
        assert set(before.values()) == {"wa1", "wa2"}

        # --- 2. a third worker joins: hand-over on rebalance -----------------------------
        await whatsapp_worker("wa3")
        second = await story.send_round("two")
        sent = await story.all_sent(second)
        await story.sample_memory()
        after_join = await story.owners()
        moved = {t for t in TENANTS if after_join.get(t) != before[t]}
        assert moved, "the new worker took no tenant"
        assert "wa3" in {after_join[t] for t in moved}
        assert all(e["provider"] == "wppconnect" for e in sent)
        story.check_sessions()
        story.check_messages(2)
        joined = time.monotonic()

        # --- 3. a worker dies (kill -9): its sessions move after their leases expire -------
        victim = max(("wa1", "wa2", "wa3"), key=lambda w: list(after_join.values()).count(w))
        orphaned = {t for t, w in after_join.items() if w == victim}
        await story.workers[victim].kill()
        third = await story.send_round("three")
        await story.all_sent(third)
        after_kill = await story.owners()
        assert all(after_kill[t] != victim for t in TENANTS)
        assert orphaned
        story.check_sessions()
        story.check_messages(3)

        # --- no QR after the first pairing; moved sessions restored (isLogged) ------------
        qrs = await story.records(settings.topic_whatsapp_qr, lambda es: len(es) >= 20)
        assert sorted(e["tenantId"] for e in qrs) == sorted(TENANTS)
        states = await story.records(
            settings.topic_whatsapp_state,
            lambda es: all(
                [e.get("status") for e in es if e["tenantId"] == t].count("isLogged") >= 1
                for t in orphaned | moved
            ),
        )
        for tenant in TENANTS:
            mine = [e.get("status") for e in states if e["tenantId"] == tenant]
            assert mine.count("notLogged") == 1, (tenant, mine)
        # The workers' metrics endpoint reports what happened.
        async with httpx.AsyncClient(timeout=10) as client:
            scraped = (await client.get(f"{story.workers['wa3'].metrics_url}/metrics")).text
        assert "herald_whatsapp_sessions_active" in scraped
        assert "herald_notifications_sent_total{" in scraped
        assert "herald_whatsapp_handovers_total" in scraped
        finished = time.monotonic()
        print(
            f"\nhand-over story: pairing {paired - started:.0f}s, join {joined - paired:.0f}s, "
            f"kill {finished - joined:.0f}s, total {finished - started:.0f}s; "
            f"peak memory of the whatsapp workers {story.peak_memory / 2**30:.2f} GiB (PSS); "
            f"moved on join {len(moved)}, on kill {len(orphaned)}"
        )
        await sim.close()


async def _wait_for_keys(redis: Redis, keys: list[str], timeout: float = 60) -> None:  # noqa: ASYNC109
    """Wait until every key exists, woken by Redis keyspace notifications."""
    await redis.config_set("notify-keyspace-events", "Kh")
    pubsub = redis.pubsub()
    await pubsub.psubscribe("__keyspace@*__:wppconnect:token:*")
    try:
        async with asyncio.timeout(timeout):
            while missing := [k for k in keys if not await redis.exists(k)]:
                del missing
                await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
    finally:
        await pubsub.aclose()
