"""Doctor checks of the WhatsApp Web worker: Chromium starts with Herald's flags, and
the wa-js bundle is in place at the version the bridge is written for."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson

from providers.wppconnect._contract import WAJS_PACKAGE, WAJS_VERSION
from schemas.settings import Settings
from streams.cli.doctor._model import Check, Outcome
from streams.whatsapp.browser import CHROMIUM_FLAGS, find_chromium, wajs_path

__all__ = ["bundle_version", "check_chromium", "check_wajs"]

_LAUNCH_TIMEOUT = 60.0
_VERSION_IN_BUNDLE = re.compile(rb'\.version="(\d+\.\d+\.\d+[^"]*)"')


def bundle_version(path: Path) -> str | None:
    """The wa-js version of the bundle at ``path``: its package.json, else the bundle's own."""
    package = path.parent.parent / "package.json"
    if package.is_file():
        try:
            data = orjson.loads(package.read_bytes())
        except orjson.JSONDecodeError:
            data = {}
        if isinstance(data, dict) and data.get("name") == WAJS_PACKAGE and data.get("version"):
            return str(data["version"])
    match = _VERSION_IN_BUNDLE.search(path.read_bytes())
    return match.group(1).decode() if match else None


def check_wajs(settings: Settings) -> Check:
    path = wajs_path(settings)
    hint = "run `herald whatsapp install` (or set WHATSAPP_WPPCONNECT_WAJS_PATH)"
    if not path.is_file():
        return Check("wa-js", Outcome.FAIL, f"no bundle at {path}", hint)
    version = bundle_version(path)
    details = {"path": str(path), "version": version, "pinned": WAJS_VERSION}
    if version != WAJS_VERSION:
        return Check(
            "wa-js",
            Outcome.FAIL,
            f"{path} is version {version or 'unknown'}, Herald pins {WAJS_VERSION}",
            hint,
            details,
        )
    return Check("wa-js", Outcome.OK, f"{WAJS_PACKAGE}@{WAJS_VERSION} at {path}", None, details)


async def check_chromium(settings: Settings) -> Check:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    executable = None
    if settings.wppconnect_use_chrome:
        executable = find_chromium(settings.wppconnect_chromium_path)
        if executable is None:
            return Check(
                "chromium",
                Outcome.FAIL,
                f"not found ({settings.wppconnect_chromium_path or '/usr/bin/chromium, PATH'})",
                "install Debian's chromium or set WHATSAPP_WPPCONNECT_CHROMIUM_PATH",
            )
    try:
        async with asyncio.timeout(_LAUNCH_TIMEOUT), async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=executable,
                headless=settings.wppconnect_headless,
                args=list(CHROMIUM_FLAGS),
            )
            try:
                page = await browser.new_page()
                answer = await page.evaluate("1 + 1")
                version = browser.version
            finally:
                await browser.close()
    except (PlaywrightError, OSError, TimeoutError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return Check(
            "chromium",
            Outcome.FAIL,
            f"{executable or 'Playwright Chromium'} did not start with Herald's flags: {first}",
            "run it by hand with the flags in streams/whatsapp/browser.py to see why",
        )
    if answer != 2:
        return Check("chromium", Outcome.FAIL, f"{executable} started but did not run scripts")
    return Check(
        "chromium",
        Outcome.OK,
        f"{executable or 'Playwright Chromium'} {version} starts with Herald's "
        f"{len(CHROMIUM_FLAGS)} flags",
        details={"executable": executable, "version": version, "flags": list(CHROMIUM_FLAGS)},
    )
