"""(d) The WhatsApp Web bridge against the simulator: memory and sends per session.

For each session count: the simulator (``herald sandbox whatsapp-web``), a router and a
``herald worker whatsapp`` on the run's broker and Redis, one tenant per session with a
``wppconnect`` integration. One message per tenant opens its session; the bench plays
the phone (scans each tenant's QR code from Redis), then sends a burst per session and
reads the memory of each session's Chromium process tree (PSS, so shared pages are split
between the sessions that share them, and RSS) and of the worker itself.

Pacing (``WHATSAPP_WPPCONNECT_SEND_RATE``, 20/min per session by default, anti-ban) is
switched off here to measure what the bridge can do; with it on, a session sends at most
``rate/60`` messages per second by design.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis

from bench.load import Collector, run_load, text_request
from bench.procstats import memory_kib, start_ticks, tree, tree_memory_detail_kib
from bench.report import SessionResult, percentile, say
from bench.stack import Process, Stack, wait_http
from streams.platform.embedded import find_free_port
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from streams.whatsapp.store import SessionStore

__all__ = ["browsers_of", "run", "versions"]

#: Session statuses that mean a session did not stay up.
_UNSTABLE = {"browserClose", "sessionFailed", "serverClose", "phoneNotConnected", "qrReadError"}


async def reap(pids: list[int], timeout: float = 20.0) -> None:  # noqa: ASYNC109
    """Wait for browsers of a stopped worker to exit (SIGKILL after ``timeout``), so that
    they do not share pages with, and lower the PSS of, the next measurement."""
    started = {p: start_ticks(p) for p in pids}
    alive = [p for p, t in started.items() if t is not None]
    deadline = time.perf_counter() + timeout
    while alive and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
        alive = [p for p in alive if start_ticks(p) == started[p]]
    for pid in alive:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def browsers_of(root: int) -> dict[int, str]:
    """Chromium browser processes (not helpers) under ``root``: pid -> profile directory."""
    found = {}
    for pid in tree(root):
        argv = _cmdline(pid)
        if not argv or any(a.startswith("--type=") for a in argv):
            continue
        for arg in argv:
            if arg.startswith("--user-data-dir="):
                found[pid] = arg.split("=", 1)[1]
    return found


@dataclass
class SessionMemory:
    sessions: int
    pss_mib: list[float]  # per browser tree
    rss_mib: list[float]
    anon_mib: list[float]
    worker_pss_mib: float  # the worker process and the Playwright driver, without browsers


def measure_memory(worker_pid: int) -> SessionMemory:
    browsers = browsers_of(worker_pid)
    pss, rss, anon = [], [], []
    in_browsers: set[int] = set()
    for pid in browsers:
        members = tree(pid)
        in_browsers.update(members)
        r, p, a = tree_memory_detail_kib(pid)
        rss.append(r / 1024)
        pss.append(p / 1024)
        anon.append(a / 1024)
    rest = 0
    for pid in tree(worker_pid):
        if pid not in in_browsers:
            with contextlib.suppress(OSError):
                rest += memory_kib(pid)[1]
    return SessionMemory(len(browsers), pss, rss, anon, rest / 1024)


async def _state_events(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    events: list[dict[str, Any]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                return events
            for records in batch.values():
                events.extend(orjson.loads(r.value) for r in records)
    finally:
        await consumer.stop()


def _requests(tenants: list[str], per_tenant: int, prefix: str) -> list[tuple[bytes, bytes, str]]:
    return [
        text_request(
            f"{prefix}-{tenant}-{round_}",
            tenant,
            f"+55119{(i * 37 + round_) % 10_000_000:08d}",
            f"Your order #{round_} has shipped.",
            {"round": round_},
        )
        for round_ in range(per_tenant)
        for i, tenant in enumerate(tenants)
    ]


async def _pair_all(
    qrs: SessionStore, sim_url: str, tenants: list[str], deadline: float, failures: list[str]
) -> None:
    """Be the phone: scan each tenant's current QR code (from Redis, decrypted) once."""
    pending = {t: f"55119{9000_0000 + i:08d}" for i, t in enumerate(tenants)}
    async with httpx.AsyncClient(base_url=sim_url, timeout=30, trust_env=False) as client:
        while pending and time.perf_counter() < deadline:
            for tenant in list(pending):
                qr = await qrs.get_qr(tenant)
                if qr is None:
                    continue
                code = qr.get("urlCode")
                answer = await client.post(
                    "/phone/scan", json={"code": code, "phone": pending[tenant]}
                )
                if answer.status_code == 200:
                    del pending[tenant]
                elif answer.status_code not in (404, 409):  # a code that just rotated
                    failures.append(f"scan {tenant}: HTTP {answer.status_code} {answer.text[:100]}")
                    del pending[tenant]
            await asyncio.sleep(0.2)
    failures.extend(f"{t}: never showed a QR code" for t in pending)


async def _run_count(stack: Stack, count: int, per_session: int, workdir: Path) -> SessionResult:
    tag = uuid.uuid4().hex[:6]
    tenants = [f"wa{count}-{tag}-{i:03d}" for i in range(count)]
    sim_port = find_free_port()
    sim = await stack.launch(
        f"simulator-{count}",
        [
            sys.executable,
            "-m",
            "streams.cli.main",
            "sandbox",
            "whatsapp-web",
            "--port",
            str(sim_port),
            "--qr-interval",
            "60",
        ],
        extra_env={"LOG_LEVEL": "warning"},
    )
    sim_url = f"http://127.0.0.1:{sim_port}"
    router: Process | None = None
    wa: Process | None = None
    notes: list[str] = []
    try:
        await wait_http(f"{sim_url}/phone/pending-codes", sim)
        settings = stack.settings(
            f"wa{count}",
            whatsapp_web_url=sim_url,
            wppconnect_enabled=True,
            wppconnect_token_folder=str(workdir / f"tokens-{tag}"),
            wppconnect_max_sessions=max(count, 25),
            wppconnect_send_rate=0.0,
            wppconnect_call_timeout_seconds=60.0,
        )
        redis = Redis.from_url(stack.redis_url)
        try:
            store = IntegrationStore(redis, Cipher.from_settings(settings))
            for tenant in tenants:
                await store.set(
                    tenant,
                    "wppconnect",
                    {"sessionName": tenant, "phoneNumberId": f"wpp-{tenant}"},
                    is_default=True,
                )
            wa_settings = settings.model_copy(update={"web_port": find_free_port()})
            started_router, started_wa = await asyncio.gather(
                stack.start_worker(settings), stack.start_worker(wa_settings, role="whatsapp")
            )
            router, wa = started_router, started_wa
            started_wa.name = "whatsapp-worker"
            async with Collector(stack.bootstrap, settings.topic_status) as collector:
                openers = _requests(tenants, 1, f"open-{tag}")
                started = time.perf_counter()
                opening = asyncio.create_task(
                    run_load(
                        stack.bootstrap,
                        settings.topic_requests,
                        collector,
                        openers,
                        timeout=60 + 2 * count,
                    )
                )
                failures: list[str] = []
                qrs = SessionStore(redis, cipher=Cipher.from_settings(settings))
                await _pair_all(qrs, sim_url, tenants, started + 50 + 2 * count, failures)
                opened = await opening
                ready_seconds = time.perf_counter() - started
                notes.append(
                    f"{opened.sent}/{count} sessions paired and sent their first message "
                    f"in {ready_seconds:.0f} s"
                )
                notes += failures[:5]
                burst = _requests(tenants, per_session, f"send-{tag}")
                outcome = await run_load(
                    stack.bootstrap,
                    settings.topic_requests,
                    collector,
                    burst,
                    timeout=30 + per_session * count * 0.05,
                )
                per_tenant: dict[str, float] = {}
                first = outcome.first_produced
                for tenant in tenants:
                    ends = [
                        collector.sent_at[nid]
                        for key, _, nid in burst
                        if key == tenant.encode() and nid in collector.sent_at
                    ]
                    if len(ends) == per_session:
                        per_tenant[tenant] = per_session / max(max(ends) - first, 1e-3)
            memory = measure_memory(started_wa.pid)
            states = await _state_events(stack.bootstrap, settings.topic_whatsapp_state)
        finally:
            await redis.aclose()
        bad = [e for e in states if e.get("status") in _UNSTABLE]
        if bad:
            notes.append(
                "unstable: "
                + ", ".join(sorted({f"{e.get('status')} ({e.get('detail')})" for e in bad}))[:300]
            )
        if outcome.other:
            notes.append(f"other status events: {outcome.other}")
        stable = not bad and outcome.complete and memory.sessions == count
        if memory.sessions != count:
            notes.append(f"{memory.sessions} browsers running for {count} sessions")
        return SessionResult(
            sessions=count,
            flags="herald (CHROMIUM_FLAGS)",
            pss_mib_per_session=_mean(memory.pss_mib),
            rss_mib_per_session=_mean(memory.rss_mib),
            anon_mib_per_session=_mean(memory.anon_mib),
            worker_pss_mib=round(memory.worker_pss_mib, 1),
            sends_per_second_per_session=_mean(list(per_tenant.values())),
            sends_per_second_worker=round(outcome.sent / outcome.seconds, 1)
            if outcome.seconds > 0
            else None,
            p50_ms=_round(percentile(outcome.latencies_ms, 50)),
            p99_ms=_round(percentile(outcome.latencies_ms, 99)),
            stable=stable,
            notes=notes,
        )
    finally:
        leftover = list(browsers_of(wa.pid)) if wa is not None else []
        for process in (wa, router, sim):
            if process is not None:
                await stack.stop(process)
        await reap(leftover)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _round(value: float) -> float | None:
    return None if value != value else round(value, 1)  # NaN -> None


async def run(
    stack: Stack, counts: list[int], *, quick: bool, workdir: Path, ablation: bool = False
) -> tuple[list[SessionResult], list[str]]:
    """Measure the bridge at each session count, then the flag variants; notes say what
    could not run."""
    from streams.whatsapp.browser import default_wajs_path, find_chromium

    if find_chromium(os.environ.get("WHATSAPP_WPPCONNECT_CHROMIUM_PATH")) is None:
        return [], ["(d) not run: no Chromium (scripts/bootstrap.sh installs Debian's chromium)"]
    if not default_wajs_path().exists():
        return [], ["(d) not run: vendor/wa-js is missing (scripts/bootstrap.sh fetches it)"]
    results = []
    notes: list[str] = []
    per_session = 5 if quick else 20
    for count in counts:
        say(f"(d) {count} session(s) through Herald ...")
        try:
            results.append(await _run_count(stack, count, per_session, workdir))
        except (RuntimeError, TimeoutError, OSError) as exc:
            notes.append(f"(d) {count} session(s) failed: {str(exc)[:300]}")
    results += await _flags(stack, counts, workdir, ablation=ablation, notes=notes)
    return results, notes


async def _flags(
    stack: Stack, counts: list[int], workdir: Path, *, ablation: bool, notes: list[str]
) -> list[SessionResult]:
    from bench.chromium import Harness, ablations, baselines

    port = find_free_port()
    argv = [sys.executable, "-m", "streams.cli.main", "sandbox", "whatsapp-web"]
    sim = await stack.launch(
        "simulator-flags", [*argv, "--port", str(port), "--qr-interval", "60"], extra_env={}
    )
    results = []
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/phone/pending-codes", sim)
        async with Harness(url, workdir) as harness:
            for count in counts:
                for variant in baselines():
                    say(f"(d) {count} session(s), {variant.name} ...")
                    results.append(await harness.measure(variant, count))
            if ablation:
                for variant in ablations():
                    say(f"(d) 1 session, {variant.name} ...")
                    results.append(await harness.measure(variant, 1))
    except Exception as exc:  # Playwright errors: report, keep what was measured
        notes.append(f"(d) flag comparison stopped: {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        await stack.stop(sim)
    return results


def versions() -> dict[str, str | None]:
    from bench.report import _command_version, _package
    from streams.whatsapp.browser import find_chromium

    chromium = find_chromium(os.environ.get("WHATSAPP_WPPCONNECT_CHROMIUM_PATH"))
    return {
        "playwright": _package("playwright"),
        "chromium": _command_version([chromium, "--version"]) if chromium else None,
    }
