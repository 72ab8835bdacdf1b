"""How a session's Chromium is launched and what its page loads: one place for the session
driver (``browser.py``) and anything that must open the page exactly as a session does.

* :data:`CHROMIUM_FLAGS`, :func:`find_chromium`, :func:`user_agent`: the browser;
* :func:`launch_options`: the keyword arguments of ``launch_persistent_context`` for one
  session (headless, flags, sandbox, environment, CSP, the session's proxy, service
  workers blocked when the WhatsApp Web build is pinned);
* :func:`pin_build`: request interception that serves the pinned WhatsApp Web page
  (``WHATSAPP_WEB_VERSION``) for every navigation to WhatsApp Web's page, and refuses
  its ``check-update`` requests, as WPPConnect's ``whatsappVersion`` does.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Route

from schemas.settings import Settings
from streams.whatsapp.driver import SessionProxy
from streams.whatsapp.isolation import NO_SANDBOX_FLAGS, browser_env

__all__ = [
    "CHROMIUM_FLAGS",
    "find_chromium",
    "launch_options",
    "pin_build",
    "pinned_page_pattern",
    "user_agent",
]

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

_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
_VIEWPORT = {"width": 1024, "height": 768}


def find_chromium(configured: str | None) -> str | None:
    """The configured executable, else ``/usr/bin/chromium``, else one on PATH."""
    for candidate in (configured,) if configured else _CANDIDATES:
        if Path(candidate).is_file():
            return str(candidate)
        found = shutil.which(candidate)
        if found:
            return found
    return None


def user_agent(executable: str) -> str | None:
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


def launch_options(
    settings: Settings,
    *,
    executable: str | None,
    agent: str | None,
    sandbox: bool,
    proxy: SessionProxy | None,
    pinned: bool,
    timeout_ms: float,
    url: str | None = None,
) -> dict[str, Any]:
    """``launch_persistent_context`` keyword arguments (all but the profile directory).

    ``url``: WhatsApp Web's URL (default ``WHATSAPP_WEB_URL``).
    """
    flags = list(CHROMIUM_FLAGS)
    if pinned and _is_local(url or settings.whatsapp_web_url):
        # A page served by interception has no address, so Chromium counts it as public
        # and refuses its connections back to a local WhatsApp Web (the simulator, a
        # mirror on the LAN) under Local Network Access. The page's own origin is local
        # there: nothing to protect. Never for a public WhatsApp Web.
        flags = [
            f"{flag},LocalNetworkAccessChecks" if flag.startswith("--disable-features=") else flag
            for flag in flags
        ]
    options: dict[str, Any] = {
        "executable_path": executable,
        "headless": settings.wppconnect_headless,
        "args": [*flags, *(() if sandbox else NO_SANDBOX_FLAGS)],
        "chromium_sandbox": sandbox,
        "env": browser_env(os.environ),
        "bypass_csp": settings.wppconnect_bypass_csp,
        "viewport": _VIEWPORT,
        "user_agent": agent,
        "timeout": timeout_ms,
    }
    if proxy is not None:
        # Per launch: every session is its own browser. Playwright answers the proxy's 407
        # with these credentials; loopback goes through the proxy too (<-loopback>).
        options["proxy"] = proxy.playwright()
    if pinned:
        # WhatsApp Web's service worker would serve its cached (newer) page around the
        # interception: no service workers while the build is pinned.
        options["service_workers"] = "block"
    return options


def _is_local(url: str) -> bool:
    """``url``'s host is loopback, private or link-local (an IP address or localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def pinned_page_pattern(url: str) -> re.Pattern[str]:
    """WhatsApp Web's page at ``url`` and its own reloads (``/?post_logout=1``...)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path or "/"
    return re.compile(rf"^{re.escape(origin + path)}(\?[^#]*)?(#.*)?$")


async def pin_build(context: BrowserContext, url: str, html: str) -> None:
    """Serve ``html`` for every navigation to WhatsApp Web's page at ``url``."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    body = html.encode("utf-8")

    async def page(route: Route) -> None:
        if route.request.resource_type != "document":
            await route.continue_()
            return
        await route.fulfill(
            status=200,
            body=body,
            headers={"content-type": "text/html; charset=utf-8", "cache-control": "no-store"},
        )

    async def refuse(route: Route) -> None:
        await route.abort()

    await context.route(pinned_page_pattern(url), page)
    # The page asks whether a newer build exists; a pinned page must not be told.
    await context.route(re.compile(rf"^{re.escape(origin)}/check-update\b"), refuse)
