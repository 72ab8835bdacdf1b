"""The Playwright driver: one Chromium per session, on the session's own profile.

Each session is a Playwright persistent context (``launch_persistent_context`` with the
tenant's profile directory: its login survives restarts). Before any page script runs,
every load gets the wa-js bundle and Herald's bridge (``add_init_script``: init scripts
are not subject to the page's CSP, so WhatsApp Web's CSP stays on unless
``WHATSAPP_WPPCONNECT_BYPASS_CSP``); the bridge reports events through the
``__heraldEmit`` binding. Chromium runs with :data:`CHROMIUM_FLAGS` (as little background
work, caching and memory as WhatsApp Web allows), sandboxed where the platform allows
(:func:`use_sandbox`), with an environment that holds no Herald secret
(:func:`browser_env`). The isolation model: docs/security.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from providers._exceptions import HeraldError
from providers.wppconnect import BINDING_NAME, BRIDGE_JS, CALL_FUNCTION
from providers.wppconnect._bridge import STATE_FUNCTION, TAKEOVER_FUNCTION
from schemas.settings import Settings
from streams.whatsapp import login
from streams.whatsapp.driver import (
    ContextReset,
    DriverClosed,
    DriverError,
    DriverSpec,
    DriverTimeout,
    EventCallback,
    WppError,
)
from streams.whatsapp.isolation import NO_SANDBOX_FLAGS, WPP_CONFIG_JS, browser_env, use_sandbox

__all__ = [
    "CHROMIUM_FLAGS",
    "BrowserLauncher",
    "BrowserUnavailable",
    "PlaywrightDriver",
    "default_wajs_path",
    "find_chromium",
]

log = logging.getLogger(__name__)

#: Chromium flags of every session, one reason each.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--disable-dev-shm-usage",  # containers have a tiny /dev/shm; use /tmp
    "--disable-gpu",  # no GPU on servers; avoids the GPU process
    "--disable-software-rasterizer",
    "--disable-background-networking",  # no safe-browsing, variations, update pings
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,CalculateNativeWinOcclusion,InterestFeedContentSuggestions,AutofillServerCommunication",
    "--metrics-recording-only",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--mute-audio",
    "--password-store=basic",
    "--use-mock-keychain",
    # WhatsApp Web must keep running while nobody looks at it.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    # No caches worth keeping: the profile holds the login, not downloaded assets.
    "--disk-cache-size=1",
    "--media-cache-size=1",
    "--aggressive-cache-discard",
    "--renderer-process-limit=2",
)

#: Browsers a worker starts at the same time (each start takes about a CPU-second).
LAUNCH_CONCURRENCY = 2

_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
_VIEWPORT = {"width": 1024, "height": 768}
_CONTEXT_GONE = ("Execution context was destroyed", "Cannot find context", "navigat")
_CLOSED = (
    "has been closed",
    "Target closed",
    "Browser closed",
    "Connection closed",
    "Frame was detached",
    "frame got detached",
    "Target crashed",
    "Page crashed",
)
#: The Playwright driver process itself is gone: every session must relaunch through a new one.
_DRIVER_GONE = ("Connection closed", "Playwright connection closed", "Event loop is closed")


class BrowserUnavailable(HeraldError):
    """Chromium or the wa-js bundle cannot be found."""


def find_chromium(configured: str | None) -> str | None:
    """The configured executable, else ``/usr/bin/chromium``, else one on PATH."""
    for candidate in (configured,) if configured else _CANDIDATES:
        if Path(candidate).is_file():
            return str(candidate)
        found = shutil.which(candidate)
        if found:
            return found
    return None


def default_wajs_path() -> Path:
    """``vendor/wa-js/dist/wppconnect-wa.js`` of this checkout (scripts/bootstrap.sh)."""
    return Path(__file__).resolve().parents[2] / "vendor" / "wa-js" / "dist" / "wppconnect-wa.js"


def wajs_path(settings: Settings) -> Path:
    return Path(settings.wppconnect_wajs_path or default_wajs_path())


def _user_agent(executable: str) -> str | None:
    """A desktop Chrome user agent of the executable's major version (no "HeadlessChrome")."""
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)\.\d+\.\d+\.\d+", out)
    if not match:
        return None
    return (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{match.group(1)}.0.0.0 Safari/537.36"
    )


class BrowserLauncher:
    """The worker's Playwright instance and what every session's browser shares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._playwright: Playwright | None = None
        self._lock = asyncio.Lock()
        self._wajs: str | None = None
        self.executable: str | None = None
        self.user_agent: str | None = None
        self.sandbox = use_sandbox(settings.wppconnect_chromium_sandbox, os.geteuid())
        if not self.sandbox and settings.wppconnect_chromium_sandbox == "auto":
            log.warning(
                "Chromium runs without its sandbox: the worker runs as root (run it as "
                "another user, as the Dockerfile's USER herald does; docs/security.md)"
            )
        #: Browsers starting at once: a burst of starts (a worker taking over many sessions)
        #: would otherwise starve the worker's event loop, its lease renewals and heartbeats.
        self.starting = asyncio.Semaphore(LAUNCH_CONCURRENCY)

    async def playwright(self) -> Playwright:
        async with self._lock:
            if self._playwright is None:
                self._prepare()
                self._playwright = await async_playwright().start()
            return self._playwright

    def _prepare(self) -> None:
        settings = self.settings
        path = wajs_path(settings)
        try:
            self._wajs = WPP_CONFIG_JS + path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BrowserUnavailable(
                f"the wa-js bundle is missing at {path}: run scripts/bootstrap.sh "
                "(npm pack @wppconnect/wa-js) or set WHATSAPP_WPPCONNECT_WAJS_PATH"
            ) from exc
        if settings.wppconnect_use_chrome:
            self.executable = find_chromium(settings.wppconnect_chromium_path)
            if self.executable is None:
                raise BrowserUnavailable(
                    "no Chromium found: install Debian's chromium or set "
                    "WHATSAPP_WPPCONNECT_CHROMIUM_PATH"
                )
            self.user_agent = _user_agent(self.executable)

    @property
    def wajs(self) -> str:
        if self._wajs is None:
            raise BrowserUnavailable("the browser launcher is not started")
        return self._wajs

    def factory(self, spec: DriverSpec, callback: EventCallback) -> PlaywrightDriver:
        return PlaywrightDriver(self, spec, callback)

    async def reset(self, dead: Playwright) -> None:
        """Drop a Playwright instance whose driver died; the next launch starts a new one."""
        async with self._lock:
            if self._playwright is dead:
                log.warning("the Playwright driver is gone: starting a new one")
                with contextlib.suppress(Exception):
                    await dead.stop()
                self._playwright = None

    async def stop(self) -> None:
        async with self._lock:
            if self._playwright is not None:
                with contextlib.suppress(Exception):
                    await self._playwright.stop()
                self._playwright = None


def _classify(exc: PlaywrightError, what: str) -> DriverError:
    message = str(exc)
    if isinstance(exc, PlaywrightTimeout):
        return DriverTimeout(f"{what}: {message[:200]}")
    if any(s in message for s in _CONTEXT_GONE):
        return ContextReset(f"{what}: {message[:200]}")
    if any(s in message for s in _CLOSED):
        return DriverClosed(f"{what}: {message[:200]}")
    return DriverError(f"{what}: {message[:200]}")


class PlaywrightDriver:
    def __init__(self, launcher: BrowserLauncher, spec: DriverSpec, callback: EventCallback):
        self._launcher = launcher
        self.spec = spec
        self._callback = callback
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._closing = False
        self._died = False  # the browser or page went away without being asked to
        self._clean: bool | None = None  # how the close went, once closed
        self._timeout = launcher.settings.wppconnect_call_timeout_seconds
        #: The HTTP status of the last load of WhatsApp Web (``herald whatsapp doctor``).
        self.response_status: int | None = None

    @property
    def page(self) -> Page | None:
        """The WhatsApp Web page (tests and diagnostics)."""
        return self._page

    def _emit(self, name: str, payload: Any = None) -> None:
        if not self._closing:
            self._callback(name, payload)

    def _gone(self, name: str) -> None:
        if not self._closing:
            self._died = True
        self._emit(name)

    async def _launch(self) -> BrowserContext:
        for attempt in (1, 2):
            pw = await self._launcher.playwright()
            settings = self._launcher.settings
            sandbox = self._launcher.sandbox
            try:
                return await pw.chromium.launch_persistent_context(
                    str(self.spec.profile_dir),
                    executable_path=self._launcher.executable,
                    headless=settings.wppconnect_headless,
                    args=[*CHROMIUM_FLAGS, *(() if sandbox else NO_SANDBOX_FLAGS)],
                    chromium_sandbox=sandbox,
                    env=browser_env(os.environ),
                    bypass_csp=settings.wppconnect_bypass_csp,
                    viewport=_VIEWPORT,  # type: ignore[arg-type]
                    user_agent=self._launcher.user_agent,
                    timeout=self._timeout * 1000,
                )
            except PlaywrightError as exc:
                if attempt == 1 and any(s in str(exc) for s in _DRIVER_GONE):
                    await self._launcher.reset(pw)
                    continue
                if (
                    attempt == 1
                    and sandbox
                    and settings.wppconnect_chromium_sandbox == "auto"
                    and "No usable sandbox" in str(exc)
                ):
                    log.warning(
                        "Chromium found no usable sandbox (no unprivileged user namespaces): "
                        "running without it (docs/security.md)"
                    )
                    self._launcher.sandbox = False
                    continue
                raise _classify(exc, "launching Chromium") from exc
        raise DriverClosed("launching Chromium: the Playwright driver is gone")

    async def open(self) -> None:
        async with self._launcher.starting:
            await self._open()

    async def _open(self) -> None:
        context = await self._launch()
        self._context = context
        context.set_default_timeout(self._timeout * 1000)
        context.on("close", lambda _: self._gone("browser.disconnected"))
        try:
            await context.expose_binding(BINDING_NAME, self._binding)
            kept = await asyncio.to_thread(login.read_login, self.spec.profile_dir)
            if kept is not None:  # first: before WhatsApp Web's scripts read localStorage
                await context.add_init_script(script=login.restore_script(kept))
            await context.add_init_script(script=self._launcher.wajs)
            await context.add_init_script(script=BRIDGE_JS)
            page = context.pages[0] if context.pages else await context.new_page()
            self._page = page
            page.on("close", lambda _: self._gone("page.closed"))
            page.on("crash", lambda _: self._gone("page.crashed"))
            page.on(
                "framenavigated",
                lambda frame: self._emit("page.navigated") if frame == page.main_frame else None,
            )
            response = await page.goto(self.spec.url, wait_until="domcontentloaded")
            self.response_status = response.status if response is not None else None
        except PlaywrightError as exc:
            await self.close()
            raise _classify(exc, "opening WhatsApp Web") from exc

    def _binding(self, source: Any, name: Any, payload: Any = None) -> None:
        page = self._page
        frame = source.get("frame") if isinstance(source, dict) else None
        if page is not None and frame is not None and frame != page.main_frame:
            return  # events only from the top document, where WhatsApp Web runs
        self._emit(str(name), payload)

    def _require_page(self) -> Page:
        if self._page is None or self._closing or self._page.is_closed():
            raise DriverClosed("the page is closed")
        return self._page

    async def _evaluate(self, script: str, arg: Any, what: str) -> Any:
        page = self._require_page()
        try:
            async with asyncio.timeout(self._timeout):
                return await page.evaluate(script, arg)
        except TimeoutError as exc:
            raise DriverTimeout(f"{what} did not answer within {self._timeout:g}s") from exc
        except PlaywrightError as exc:
            raise _classify(exc, what) from exc

    async def call(self, function: str, *args: Any) -> Any:
        result = await self._evaluate(
            f"([f, a]) => window.{CALL_FUNCTION}(f, a)", [function, list(args)], function
        )
        if not isinstance(result, dict):
            raise DriverError(f"{function}: the bridge answered {type(result).__name__}")
        error = result.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            message = str(error.get("message") or "error")
            if code == "not_ready":
                raise ContextReset(f"{function}: WhatsApp Web is loading")
            raise WppError(
                message, code=str(code) if code else None, name=str(error.get("name") or "")
            )
        return result.get("ok")

    async def snapshot(self) -> dict[str, Any]:
        result = await self._evaluate(
            f"() => window.{STATE_FUNCTION} ? window.{STATE_FUNCTION}() : {{ready: false}}",
            None,
            "state",
        )
        return result if isinstance(result, dict) else {"ready": False}

    async def takeover(self) -> bool:
        return bool(await self._evaluate(f"() => window.{TAKEOVER_FUNCTION}()", None, "takeover"))

    async def reload(self) -> None:
        page = self._require_page()
        try:
            await page.reload(wait_until="domcontentloaded")
        except PlaywrightError as exc:
            raise _classify(exc, "reload") from exc

    async def keep_login(self) -> bool:
        captured = await self._evaluate(login.CAPTURE_JS, None, "keeping the login")
        try:
            return await asyncio.to_thread(login.write_login, self.spec.profile_dir, captured)
        except OSError as exc:
            raise DriverError(f"keeping the login: {exc}") from exc

    async def close(self) -> bool:
        if self._clean is not None or self._closing:
            return bool(self._clean)
        self._closing = True
        context, self._context, self._page = self._context, None, None
        clean = context is not None and not self._died
        if context is not None:
            try:
                await context.close()
            except Exception:  # the driver or the browser died under us
                clean = False
        self._clean = clean
        return clean
