"""What ``herald whatsapp doctor`` finds on a WhatsApp Web page opened as a session opens it.

The page is opened by the session's own driver (:class:`~streams.whatsapp.browser.
BrowserLauncher` and :class:`~streams.whatsapp.browser.PlaywrightDriver`: the same
Chromium, launch flags, sandbox, persistent profile, login restore, wa-js and bridge
init scripts, the pinned WhatsApp Web build of ``WHATSAPP_WEB_VERSION`` served in place of
the page by :func:`~streams.whatsapp.launch.pin_build`), on a throw-away profile directory that is removed afterwards: the doctor
never touches a tenant's login, and a running worker's sessions are not disturbed.

:data:`PROBE_JS` reads, in the page, what wa-js and WhatsApp Web say about themselves:
``WPP.isReady``, ``WPP.version``, ``WPP.loader.loaderType`` (wa-js 4.6.0: ``meta`` or
``webpack``; ``unknown`` while it waits), whether the page has WhatsApp's Meta module
system (``window.__d`` and ``window.require``) or a webpack chunk array
(``webpackChunkwhatsapp_web_client``), the WhatsApp Web build (``window.Debug.VERSION``,
else ``WPP.conn.getBuildConstants().VERSION_STR``), the authentication and the socket
state.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Error as PlaywrightError

from schemas.settings import Settings
from streams.whatsapp.browser import BrowserLauncher, BrowserUnavailable, PlaywrightDriver
from streams.whatsapp.driver import DriverError, DriverSpec

__all__ = ["PROBE_JS", "PageProbe", "probe_page"]

#: Reads what wa-js and WhatsApp Web report; never throws (each part is guarded).
PROBE_JS = r"""
() => {
  const W = window.WPP;
  const out = {
    injected: !!W,
    ready: !!(W && W.isReady),
    wajsVersion: (W && typeof W.version === 'string') ? W.version : null,
    loaderType: (W && W.loader && W.loader.loaderType) ? String(W.loader.loaderType) : null,
    meta: typeof window.__d === 'function' && typeof window.require === 'function',
    webpack: Array.isArray(window.webpackChunkwhatsapp_web_client),
    waVersion: (window.Debug && window.Debug.VERSION) ? String(window.Debug.VERSION) : null,
    authenticated: null,
    mainReady: null,
    state: null,
    error: null,
  };
  if (!out.ready) return out;
  try {
    if (!out.waVersion && W.conn.getBuildConstants) {
      const build = W.conn.getBuildConstants();
      if (build && build.VERSION_STR) out.waVersion = String(build.VERSION_STR);
    }
  } catch (e) { /* an older build without the constants */ }
  try {
    out.authenticated = !!W.conn.isAuthenticated();
    out.mainReady = !!W.conn.isMainReady();
  } catch (e) { out.error = String((e && e.message) || e); }
  try {
    const socket = W.whatsapp && W.whatsapp.Socket;
    out.state = socket && socket.state ? String(socket.state) : null;
  } catch (e) { /* no socket model */ }
  return out;
}
"""

_POLL_SECONDS = 0.25


@dataclass
class PageProbe:
    """Everything the doctor learnt; ``None`` where it did not get that far."""

    url: str
    #: The pinned build (``WHATSAPP_WEB_VERSION``) served in place of the page, if any.
    pinned: str | None = None
    browser_error: str | None = None
    executable: str | None = None
    user_agent: str | None = None
    sandbox: bool | None = None
    load_error: str | None = None
    status: int | None = None
    ready_seconds: float | None = None
    page: dict[str, Any] = field(default_factory=dict)
    auth_code: dict[str, Any] | None = None
    auth_code_error: str | None = None

    @property
    def loaded(self) -> bool:
        return self.load_error is None and self.status is not None

    @property
    def ready(self) -> bool:
        return bool(self.page.get("ready"))


class _Events:
    """The bridge's events (``conn.auth_code_change`` carries the QR code)."""

    def __init__(self) -> None:
        self.codes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def __call__(self, name: str, payload: Any) -> None:
        if (
            name == "conn.auth_code_change"
            and isinstance(payload, dict)
            and payload.get("fullCode")
        ):
            self.codes.put_nowait(payload)


async def _read(driver: PlaywrightDriver) -> dict[str, Any]:
    page = driver.page
    if page is None:
        return {}
    try:
        result = await page.evaluate(PROBE_JS)
    except PlaywrightError:  # the page navigated meanwhile: read it again later
        return {}
    return result if isinstance(result, dict) else {}


async def _wait_ready(driver: PlaywrightDriver, deadline: float) -> tuple[dict[str, Any], bool]:
    loop = asyncio.get_running_loop()
    page: dict[str, Any] = {}
    while True:
        page = await _read(driver) or page
        if page.get("ready"):
            return page, True
        if loop.time() >= deadline:
            return page, False
        await asyncio.sleep(_POLL_SECONDS)


async def _auth_code(
    driver: PlaywrightDriver, events: _Events, deadline: float
) -> dict[str, Any] | None:
    """``WPP.conn.getAuthCode()``, else the next ``conn.auth_code_change`` before ``deadline``."""
    code = await driver.call("conn.getAuthCode")
    if isinstance(code, dict) and code.get("fullCode"):
        return code
    left = deadline - asyncio.get_running_loop().time()
    if left <= 0:
        return None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(left):
            return await events.codes.get()
    return None


async def probe_page(settings: Settings, url: str, *, wait_seconds: float) -> PageProbe:
    """Open ``url`` as a session would and read the page (``wait_seconds`` per wait)."""
    result = PageProbe(url=url, pinned=settings.whatsapp_web_version)
    launcher = BrowserLauncher(settings)
    try:
        await launcher.playwright()
    except BrowserUnavailable as exc:
        result.browser_error = str(exc)
        return result
    result.executable = launcher.executable
    result.user_agent = launcher.user_agent
    folder = Path(tempfile.mkdtemp(prefix="herald-doctor-"))
    events = _Events()
    spec = DriverSpec("herald-doctor", "herald-doctor", folder / "profile", url)
    driver = launcher.factory(spec, events)
    try:
        await _probe(driver, launcher, result, events, wait_seconds)
    finally:
        await driver.close()
        await launcher.stop()
        await asyncio.to_thread(shutil.rmtree, folder, True)
    return result


async def _probe(
    driver: PlaywrightDriver,
    launcher: BrowserLauncher,
    result: PageProbe,
    events: _Events,
    wait_seconds: float,
) -> None:
    loop = asyncio.get_running_loop()
    driver.spec.profile_dir.mkdir(mode=0o700)
    started = loop.time()
    try:
        await driver.open()
    except DriverError as exc:
        if str(exc).startswith("launching Chromium"):
            result.browser_error = str(exc)
        else:
            result.load_error = str(exc)
        return
    finally:
        result.sandbox = launcher.sandbox
    result.status = driver.response_status
    if result.status is None or result.status >= 400:
        return
    result.page, ready = await _wait_ready(driver, loop.time() + wait_seconds)
    if not ready:
        return
    result.ready_seconds = loop.time() - started
    try:
        result.auth_code = await _auth_code(driver, events, loop.time() + wait_seconds)
    except DriverError as exc:
        result.auth_code_error = str(exc)
    result.page = await _read(driver) or result.page  # the state after the code came
