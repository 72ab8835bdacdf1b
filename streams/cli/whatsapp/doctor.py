"""``herald whatsapp doctor``: does WhatsApp Web work here, as a session opens it?

Opens the WhatsApp Web URL (WHATSAPP_WEB_URL, or --url) exactly as a session does -- the
same Chromium, launch flags, sandbox and persistent profile handling, wa-js and Herald's
bridge injected before the page's scripts, the pinned build served in place of the page when
WHATSAPP_WEB_VERSION is set -- on a throw-away profile (no tenant's login is used or
changed), and reports one line per check: the page's HTTP status, the WhatsApp Web version
served (which must be the pin, if one is set), whether wa-js became ready (WPP.isReady) and
which module loader it found, the authentication state, and whether an auth code (QR) can be
obtained. Exit code 1 when a check fails, 3 when Chromium or the wa-js bundle is not
available. Run it before upgrading wa-js or WhatsApp Web (docs/whatsapp-web.md).
"""

from __future__ import annotations

import argparse
from typing import Any

from schemas.settings import Settings
from streams.cli.doctor import Check, Outcome, print_checks
from streams.cli.errors import ExitCode
from streams.cli.whatsapp._probe import PageProbe, probe_page
from streams.whatsapp.browser import CHROMIUM_FLAGS
from streams.whatsapp.store import qr_ref

__all__ = ["checks_of", "register", "run"]

#: Socket states in which WhatsApp refuses this browser (WPPConnect's list).
BLOCKED_STATES = frozenset(
    {"CONFLICT", "PROXYBLOCK", "TOS_BLOCK", "SMB_TOS_BLOCK", "DEPRECATED_VERSION"}
)
_LOADERS = {
    "meta": "Meta modules: window.__d / require",
    "webpack": "webpack chunks: webpackChunkwhatsapp_web_client",
}


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="open WhatsApp Web as a session does and check it works (start here when "
        "sessions never show a QR)",
        description=(__doc__ or "").split("\n\n", 1)[1],
    )
    parser.add_argument("--url", help="the page to open (default: WHATSAPP_WEB_URL)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for wa-js to become ready, and then for a QR code (default 60)",
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(func=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    url = args.url or settings.whatsapp_web_url
    probe = await probe_page(settings, url, wait_seconds=max(args.timeout, 0.0))
    checks = checks_of(probe)
    failed = any(c.outcome is Outcome.FAIL for c in checks)
    print_checks(checks, as_json=args.json)
    if probe.browser_error is not None:
        return ExitCode.UNAVAILABLE
    return ExitCode.FAILED if failed else ExitCode.OK


def checks_of(probe: PageProbe) -> list[Check]:
    """One check per line of the report, in order; those after a failed stage skip."""
    checks = [_browser(probe)]
    why = "no browser"
    if probe.browser_error is None:
        checks.append(_page(probe))
        why = "the page did not load"
        if checks[-1].outcome is not Outcome.FAIL:
            checks += [_version(probe), _wajs(probe)]
            why = "wa-js is not ready"
            if probe.ready:
                checks += [_authentication(probe), _auth_code(probe)]
    done = {c.name for c in checks}
    skipped = f"not checked ({why})"
    return checks + [Check(name, Outcome.SKIP, skipped) for name in _NAMES if name not in done]


#: The checks after the browser's, in order.
_NAMES = ("page", "whatsapp web", "wa-js", "authentication", "auth code")


def _browser(probe: PageProbe) -> Check:
    if probe.browser_error is not None:
        return Check(
            "browser",
            Outcome.FAIL,
            probe.browser_error,
            "`herald doctor` checks Chromium and the wa-js bundle one by one",
        )
    agent = probe.user_agent or ""
    chrome = agent.split("Chrome/")[1].split(".")[0] if "Chrome/" in agent else "?"
    return Check(
        "browser",
        Outcome.OK,
        f"{probe.executable or 'Playwright Chromium'} (Chrome {chrome}), Herald's "
        f"{len(CHROMIUM_FLAGS)} flags, sandbox {'on' if probe.sandbox else 'off'}",
        details={
            "executable": probe.executable,
            "userAgent": probe.user_agent,
            "sandbox": probe.sandbox,
        },
    )


def _page(probe: PageProbe) -> Check:
    details = {"url": probe.url, "status": probe.status}
    if probe.load_error is not None:
        return Check(
            "page",
            Outcome.FAIL,
            f"{probe.url} did not load: {probe.load_error}",
            "check WHATSAPP_WEB_URL, DNS and the network (or the session's proxy) from "
            "this machine",
            {**details, "error": probe.load_error},
        )
    status = probe.status
    if status is None or status >= 400:
        return Check(
            "page",
            Outcome.FAIL,
            f"{probe.url} answered HTTP {status if status is not None else '(none)'}",
            "check WHATSAPP_WEB_URL",
            details,
        )
    return Check("page", Outcome.OK, f"{probe.url} answered HTTP {status}", details=details)


def _version(probe: PageProbe) -> Check:
    version = probe.page.get("waVersion")
    if not version:
        return Check(
            "whatsapp web",
            Outcome.WARN if probe.ready else Outcome.FAIL,
            "the page reports no WhatsApp Web version (window.Debug.VERSION)",
            "is this WhatsApp Web? A page without WhatsApp's scripts leaves wa-js waiting",
        )
    details = {"version": version, "pinned": probe.pinned}
    if probe.pinned and version != probe.pinned:
        return Check(
            "whatsapp web",
            Outcome.FAIL,
            f"version {version}, not the pinned {probe.pinned} (WHATSAPP_WEB_VERSION)",
            "run `herald whatsapp install` with these settings; --url must be the page the "
            "pin replaces",
            details=details,
        )
    pin = " (pinned: WHATSAPP_WEB_VERSION)" if probe.pinned else ""
    return Check("whatsapp web", Outcome.OK, f"version {version}{pin}", details=details)


def _loader(page: dict[str, Any]) -> str:
    found = [name for name in ("meta", "webpack") if page.get(name)]
    return ", ".join(_LOADERS[n] for n in found) if found else "none"


def _wajs(probe: PageProbe) -> Check:
    page = probe.page
    details = {
        "injected": page.get("injected"),
        "ready": page.get("ready"),
        "version": page.get("wajsVersion"),
        "loaderType": page.get("loaderType"),
        "metaModules": page.get("meta"),
        "webpackChunks": page.get("webpack"),
    }
    if not page.get("injected"):
        return Check(
            "wa-js",
            Outcome.FAIL,
            "not injected: window.WPP is missing",
            "check WHATSAPP_WPPCONNECT_WAJS_PATH and the bundle (`herald doctor`)",
            details,
        )
    if not probe.ready:
        return Check(
            "wa-js",
            Outcome.FAIL,
            f"{page.get('wajsVersion') or '?'} injected but WPP.isReady stayed false; loader "
            f"{page.get('loaderType') or '?'}, module systems on the page: {_loader(page)}",
            "wa-js waits for WhatsApp's Meta modules (window.__d/require) or webpack chunks: "
            "this page has neither, or a WhatsApp Web build this wa-js does not know "
            "(upgrade wa-js, or pin a WhatsApp Web version it supports)",
            details,
        )
    seconds = f" in {probe.ready_seconds:.1f}s" if probe.ready_seconds is not None else ""
    loader = page.get("loaderType") or "?"
    return Check(
        "wa-js",
        Outcome.OK,
        f"{page.get('wajsVersion') or '?'} ready{seconds}; loader {loader}"
        + (f" ({_LOADERS[loader]})" if loader in _LOADERS else ""),
        details=details,
    )


def _authentication(probe: PageProbe) -> Check:
    page = probe.page
    state = page.get("state")
    details = {
        "authenticated": page.get("authenticated"),
        "mainReady": page.get("mainReady"),
        "state": state,
    }
    if page.get("error"):
        return Check(
            "authentication",
            Outcome.FAIL,
            f"WPP.conn.isAuthenticated() threw: {page['error']}",
            "wa-js does not fit this WhatsApp Web build: upgrade wa-js or pin the version",
            details,
        )
    if state in BLOCKED_STATES:
        hint = (
            "WhatsApp refuses this build: upgrade wa-js and WhatsApp Web (docs/whatsapp-web.md)"
            if state == "DEPRECATED_VERSION"
            else "WhatsApp refuses this browser or network (proxy, terms of service)"
        )
        return Check("authentication", Outcome.FAIL, f"socket state {state}", hint, details)
    logged = "logged in" if page.get("authenticated") else "not logged in (a fresh profile)"
    return Check(
        "authentication", Outcome.OK, f"{logged}; socket {state or 'unknown'}", details=details
    )


def _auth_code(probe: PageProbe) -> Check:
    if probe.auth_code_error is not None:
        return Check(
            "auth code",
            Outcome.FAIL,
            f"WPP.conn.getAuthCode() failed: {probe.auth_code_error}",
            "a session on this page would never show a QR code",
        )
    code = probe.auth_code
    if code is None or not isinstance(code.get("fullCode"), str):
        return Check(
            "auth code",
            Outcome.FAIL,
            "no QR code within the timeout (WPP.conn.getAuthCode(), conn.auth_code_change)",
            "a session on this page would never show a QR code; try a longer --timeout",
        )
    full = str(code["fullCode"])
    ref = qr_ref(full)  # the code itself links a phone: never printed
    return Check(
        "auth code",
        Outcome.OK,
        f"a QR code can be obtained (qrRef {ref}, {len(full)} characters)",
        details={"qrRef": ref, "type": code.get("type")},
    )
