"""The Playwright driver: one Chromium per session, on the session's own profile.

Each session is a Playwright persistent context (``launch_persistent_context`` with the
tenant's profile directory: its login survives restarts), launched as
:mod:`streams.whatsapp.launch` says (flags, sandbox, environment, the session's proxy).
Before any page script runs, every load gets the wa-js bundle and Herald's bridge
(``add_init_script``: init scripts are not subject to the page's CSP, so WhatsApp Web's
CSP stays on unless ``WHATSAPP_WPPCONNECT_BYPASS_CSP``); the bridge reports events
through the ``__heraldEmit`` binding. With ``WHATSAPP_WEB_VERSION`` the pinned WhatsApp
Web page is served in place of the live one (:func:`~streams.whatsapp.launch.pin_build`).
The bundle and the build come from :mod:`streams.whatsapp.assets`. The isolation
model: docs/security.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
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
from streams.whatsapp.assets import AssetMissing, cache_root, find_wajs, find_web_build
from streams.whatsapp.driver import (
    ContextReset,
    DriverClosed,
    DriverError,
    DriverSpec,
    DriverTimeout,
    EventCallback,
    WppError,
)
from streams.whatsapp.isolation import WPP_CONFIG_JS, use_sandbox
from streams.whatsapp.launch import (
    CHROMIUM_FLAGS,
    find_chromium,
    launch_options,
    pin_build,
    user_agent,
)

__all__ = [
    "CHROMIUM_FLAGS",
    "BrowserLauncher",
    "BrowserUnavailable",
    "PlaywrightDriver",
    "default_wajs_path",
    "find_chromium",
    "wajs_path",
]

log = logging.getLogger(__name__)

#: Browsers a worker starts at the same time (each start takes about a CPU-second).
LAUNCH_CONCURRENCY = 2

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
    """Chromium, the wa-js bundle or the pinned WhatsApp Web build cannot be found."""


def wajs_path(settings: Settings) -> Path:
    """The wa-js bundle the worker injects (or, missing, where the install puts it)."""
    try:
        return find_wajs(settings)
    except AssetMissing:
        if settings.wppconnect_wajs_path:
            return Path(settings.wppconnect_wajs_path).expanduser()
        version = settings.wppconnect_wajs_version
        return cache_root(settings) / "wa-js" / version / "dist" / "wppconnect-wa.js"


def default_wajs_path() -> Path:
    """:func:`wajs_path` under the settings of the environment (benchmarks, scripts)."""
    return wajs_path(Settings())


class BrowserLauncher:
    """The worker's Playwright instance and what every session's browser shares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._playwright: Playwright | None = None
        self._lock = asyncio.Lock()
        self._wajs: str | None = None
        #: The pinned WhatsApp Web page (``WHATSAPP_WEB_VERSION``), or ``None``.
        self.web_build: str | None = None
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
        try:
            path = find_wajs(settings)
            self._wajs = WPP_CONFIG_JS + path.read_text(encoding="utf-8")
            self.web_build = find_web_build(settings)
        except AssetMissing as exc:
            raise BrowserUnavailable(str(exc)) from exc
        except OSError as exc:
            raise BrowserUnavailable(f"the wa-js bundle cannot be read: {exc}") from exc
        if settings.wppconnect_use_chrome:
            self.executable = find_chromium(settings.wppconnect_chromium_path)
            if self.executable is None:
                raise BrowserUnavailable(
                    "no Chromium found: install Debian's chromium or set "
                    "WHATSAPP_WPPCONNECT_CHROMIUM_PATH"
                )
            self.user_agent = user_agent(self.executable)

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
            options = launch_options(
                settings,
                executable=self._launcher.executable,
                agent=self._launcher.user_agent,
                sandbox=sandbox,
                proxy=self.spec.proxy,
                pinned=self._launcher.web_build is not None,
                timeout_ms=self._timeout * 1000,
                url=self.spec.url,
            )
            try:
                return await pw.chromium.launch_persistent_context(
                    str(self.spec.profile_dir), **options
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
            try:
                await self._open()
            except BrowserUnavailable as exc:  # the session fails as session_unavailable
                raise DriverError(f"the browser cannot start: {exc}") from exc

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
            if self._launcher.web_build is not None:
                await pin_build(context, self.spec.url, self._launcher.web_build)
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
