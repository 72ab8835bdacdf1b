"""(d) Chromium launch flags: memory per session with Herald's flags and without them.

The worker always launches with Herald's flags, so the comparison runs the same page
set-up as the bridge (``streams.whatsapp.browser.PlaywrightDriver.open``: a persistent
context per session, the wa-js bundle and Herald's bridge as init scripts, the CSP
bypassed) here, in the bench process, with chosen flags: pair each session with the
simulator, send a few messages through the bridge, then read the PSS of each browser's
process tree.

Variants: ``chromium defaults`` (none of Playwright's default switches, only
``--headless`` and ``--no-sandbox``, which root needs), ``playwright defaults`` (what
Playwright adds by itself), ``herald`` (Playwright's defaults plus ``CHROMIUM_FLAGS``:
what the worker runs), ``herald minus <group>`` (what each group of flags saves) and
``herald plus <flag>`` (candidates for a lower default, with a stability check).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.procstats import cpu_seconds, tree, tree_memory_detail_kib
from bench.report import SessionResult
from bench.whatsapp_web import _cmdline, browsers_of, reap

__all__ = ["ABLATION_GROUPS", "CANDIDATES", "Variant", "herald_flags", "measure_variant"]

#: Groups of Herald's flags, measured by leaving each group out.
ABLATION_GROUPS: dict[str, tuple[str, ...]] = {
    "GPU (--disable-gpu, --disable-software-rasterizer)": (
        "--disable-gpu",
        "--disable-software-rasterizer",
    ),
    "caches (--disk-cache-size, --media-cache-size, --aggressive-cache-discard)": (
        "--disk-cache-size=1",
        "--media-cache-size=1",
        "--aggressive-cache-discard",
    ),
    "--renderer-process-limit=2": ("--renderer-process-limit=2",),
    "background services (networking, updates, sync, extensions, crash reports, ...)": (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-breakpad",
        "--disable-crash-reporter",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--metrics-recording-only",
        "--no-pings",
    ),
    "--disable-features=Translate,OptimizationHints,...": (),  # matched by prefix below
    "--disable-dev-shm-usage": ("--disable-dev-shm-usage",),
}

#: Flags beyond Herald's that could lower memory further (checked for stability too).
CANDIDATES: tuple[str, ...] = (
    "--renderer-process-limit=1",
    "--no-zygote",
    "--disable-site-isolation-trials",
    "--enable-low-end-device-mode",
    "--in-process-gpu",
    "--js-flags=--max-old-space-size=256",
    "--single-process",
)


def herald_flags() -> tuple[str, ...]:
    from streams.whatsapp.browser import CHROMIUM_FLAGS

    return tuple(CHROMIUM_FLAGS)


@dataclass(frozen=True)
class Variant:
    name: str
    args: tuple[str, ...]
    #: Playwright default switches to leave out (True: all but the essentials).
    without_playwright_defaults: bool = False


def ablations() -> list[Variant]:
    base = herald_flags()
    out = []
    for name, group in ABLATION_GROUPS.items():
        if group:
            kept = tuple(f for f in base if f not in group)
        else:
            kept = tuple(f for f in base if not f.startswith("--disable-features="))
        if kept != base:
            out.append(Variant(f"herald minus {name}", kept))
    out += [Variant(f"herald plus {flag}", (*base, flag)) for flag in CANDIDATES]
    return out


def baselines() -> list[Variant]:
    return [
        Variant("chromium defaults", ("--no-sandbox",), without_playwright_defaults=True),
        Variant("herald (CHROMIUM_FLAGS)", herald_flags()),
    ]


@dataclass
class _Session:
    profile: Path
    context: Any = None
    page: Any = None
    events: list[str] = field(default_factory=list)
    error: str | None = None


async def _call(page: Any, function: str, *args: Any) -> Any:
    from providers.wppconnect import CALL_FUNCTION

    result = await page.evaluate(
        f"([f, a]) => window.{CALL_FUNCTION}(f, a)", [function, list(args)]
    )
    if not isinstance(result, dict) or result.get("error"):
        raise RuntimeError(f"{function}: {result!r}"[:200])
    return result.get("ok")


async def _until(check: Any, deadline: float, what: str) -> Any:
    last: Exception | None = None
    while time.perf_counter() < deadline:
        try:
            value = await check()
            if value:
                return value
        except Exception as exc:  # the page is still loading: try again
            last = exc
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{what} timed out ({last!r})"[:300])


class Harness:
    """Playwright and the simulator, shared by the variants of one run."""

    def __init__(self, sim_url: str, workdir: Path) -> None:
        self.sim_url = sim_url
        self.workdir = workdir
        self._pw: Any = None
        self._playwright_defaults: list[str] = []
        self._wajs = ""
        self._executable: str | None = None

    async def __aenter__(self) -> Harness:
        from playwright.async_api import async_playwright

        from streams.whatsapp.browser import default_wajs_path, find_chromium

        self._executable = find_chromium(os.environ.get("WHATSAPP_WPPCONNECT_CHROMIUM_PATH"))
        self._wajs = await asyncio.to_thread(default_wajs_path().read_text, encoding="utf-8")
        self._pw = await async_playwright().start()
        self._playwright_defaults = await self._defaults()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pw is not None:
            await self._pw.stop()

    async def _defaults(self) -> list[str]:
        """The switches Playwright adds by itself (read from a launched browser)."""
        profile = self.workdir / "chromium-probe"
        context = await self._pw.chromium.launch_persistent_context(
            str(profile), executable_path=self._executable, headless=True
        )
        try:
            argv: list[str] = []
            for pid, directory in browsers_of(os.getpid()).items():
                if directory == str(profile):
                    argv = _cmdline(pid)
        finally:
            await context.close()
        keep = ("--headless", "--no-sandbox", "--user-data-dir", "--remote-debugging")
        return [a for a in argv[1:] if a.startswith("--") and not a.startswith(keep)]

    async def _open(self, variant: Variant, session: _Session, client: httpx.AsyncClient) -> None:
        from providers.wppconnect import BINDING_NAME, BRIDGE_JS

        ignore: list[str] | bool = (
            self._playwright_defaults if variant.without_playwright_defaults else False
        )
        deadline = time.perf_counter() + 90
        try:
            session.context = await self._pw.chromium.launch_persistent_context(
                str(session.profile),
                executable_path=self._executable,
                headless=True,
                args=list(variant.args),
                ignore_default_args=ignore,
                bypass_csp=True,
                viewport={"width": 1024, "height": 768},
                timeout=60_000,
            )
            context = session.context
            await context.expose_binding(
                BINDING_NAME, lambda source, name, payload=None: session.events.append(str(name))
            )
            await context.add_init_script(script=self._wajs)
            await context.add_init_script(script=BRIDGE_JS)
            page = context.pages[0] if context.pages else await context.new_page()
            session.page = page
            page.on("crash", lambda _: session.events.append("page.crashed"))
            await page.goto(self.sim_url, wait_until="domcontentloaded")
            code = await _until(lambda: _call(page, "conn.getAuthCode"), deadline, "an auth code")
            phone = f"55119{abs(hash(session.profile)) % 10**8:08d}"
            answer = await client.post(
                "/phone/scan", json={"code": code["fullCode"], "phone": phone}
            )
            answer.raise_for_status()
            await _until(lambda: _call(page, "conn.isMainReady"), deadline, "main ready")
        except Exception as exc:
            session.error = f"{type(exc).__name__}: {exc}"[:300]

    async def _exercise(self, session: _Session, sends: int) -> None:
        if session.error or session.page is None:
            return
        try:
            for i in range(sends):
                await _call(
                    session.page, "chat.sendTextMessage", f"5511988{i:06d}@c.us", f"message {i}"
                )
        except Exception as exc:
            session.error = f"send: {exc}"[:300]

    async def measure(
        self, variant: Variant, count: int, *, sends: int = 5, hold: float = 5.0
    ) -> SessionResult:
        tag = f"{abs(hash((variant.name, count, time.time()))) % 10**8:08d}"
        sessions = [_Session(self.workdir / f"flags-{tag}-{i}") for i in range(count)]
        gate = asyncio.Semaphore(4)
        async with httpx.AsyncClient(base_url=self.sim_url, timeout=30, trust_env=False) as client:

            async def open_one(session: _Session) -> None:
                async with gate:
                    await self._open(variant, session, client)

            browsers: list[int] = []
            try:
                await asyncio.gather(*(open_one(s) for s in sessions))
                await asyncio.gather(*(self._exercise(s, sends) for s in sessions))
                profiles = {str(s.profile) for s in sessions}
                browsers = [p for p, d in browsers_of(os.getpid()).items() if d in profiles]
                idle_before = _tree_cpu(browsers)
                await asyncio.sleep(hold)  # settle, and check the sessions stay up meanwhile
                idle_cpu = (_tree_cpu(browsers) - idle_before) / hold
                await asyncio.gather(*(self._exercise(s, 1) for s in sessions))
                memory = [tree_memory_detail_kib(pid) for pid in browsers]
            finally:
                await asyncio.gather(
                    *(s.context.close() for s in sessions if s.context is not None),
                    return_exceptions=True,
                )
                await reap(browsers)
        errors = [s.error for s in sessions if s.error]
        crashed = sum(1 for s in sessions if "page.crashed" in s.events)
        notes = []
        if errors:
            notes.append(f"{len(errors)} session(s) failed: {errors[0]}")
        if crashed:
            notes.append(f"{crashed} page(s) crashed")
        if browsers:
            share = 100 * idle_cpu / len(browsers)
            notes.append(f"idle CPU per session: {share:.1f}% of a core")
        return SessionResult(
            sessions=count,
            flags=variant.name,
            pss_mib_per_session=_mean([p / 1024 for _, p, _ in memory]),
            rss_mib_per_session=_mean([r / 1024 for r, _, _ in memory]),
            anon_mib_per_session=_mean([a / 1024 for _, _, a in memory]),
            stable=not errors and not crashed and len(browsers) == count,
            notes=notes,
        )


def _tree_cpu(roots: Sequence[int]) -> float:
    total = 0.0
    for root in roots:
        for pid in tree(root):
            with contextlib.suppress(OSError):
                total += cpu_seconds(pid)
    return total


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


async def measure_variant(harness: Harness, variant: Variant, count: int) -> SessionResult:
    return await harness.measure(variant, count)
