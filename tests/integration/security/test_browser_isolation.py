"""The browser (issue #18, section 3), in real headless Chromium against the simulator.

Hostile content rendered by a session's Chromium must not reach the worker's secrets:
the browser processes get no Herald secret in their environment, WhatsApp Web's CSP
stays on (wa-js is an init script: no bypass needed), wa-js is configured not to send
links to third-party servers, and the renderers run sandboxed when the browser is not
root (here: through a ``setpriv`` wrapper to ``nobody``, since the tests run as root).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import pytest_asyncio
from aiohttp import web

from sandbox import serve_app
from sandbox.whatsapp_web import WhatsAppWebSimulator
from streams.whatsapp.browser import BrowserLauncher, PlaywrightDriver
from streams.whatsapp.driver import DriverSpec
from streams.whatsapp.isolation import use_sandbox
from streams.whatsapp.memory import browser_pid
from tests.browser import require_chromium
from tests.helpers import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SECRET = "c2VjcmV0LWtleS1vZi10aGUtd29ya2VyLW5vdC1icm93c2VyIQ=="


@pytest_asyncio.fixture
async def simulator() -> AsyncIterator[str]:
    require_chromium()
    sim = WhatsAppWebSimulator(qr_interval=60)
    async with serve_app(sim.app, port=0) as url:
        yield url


async def open_driver(
    url: str, profile: Path, **settings: Any
) -> tuple[BrowserLauncher, PlaywrightDriver]:
    config = make_settings(
        whatsapp_web_url=url, wppconnect_token_folder=str(profile.parent), **settings
    )
    launcher = BrowserLauncher(config)
    driver = launcher.factory(DriverSpec("acme", "tenant-acme", profile, url), lambda *_: None)
    await driver.open()
    return launcher, driver


def tree(profile: Path) -> tuple[psutil.Process, list[psutil.Process]]:
    pid = browser_pid(profile)
    assert pid is not None
    browser = psutil.Process(pid)
    return browser, browser.children(recursive=True)


def ns(process: psutil.Process, kind: str) -> str:
    return os.readlink(f"/proc/{process.pid}/ns/{kind}")


def environ_of(process: psutil.Process) -> bytes:
    return Path(f"/proc/{process.pid}/environ").read_bytes()


def seccomp(process: psutil.Process) -> int:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("Seccomp:"):
            return int(line.split()[1])
    return -1


async def test_no_secret_in_the_browser_and_the_page_keeps_its_csp(
    simulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_SECRET_KEY", SECRET)
    monkeypatch.setenv("REDIS_URL", "redis://:redis-password@10.0.0.1:6379/0")
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(str(request.rel_url))
        return web.Response(text="leaked", headers={"Access-Control-Allow-Origin": "*"})

    other = web.Application()
    other.router.add_get("/{tail:.*}", record)
    launcher, driver = await open_driver(simulator, tmp_path / "tokens" / "tenant-acme")
    try:
        async with serve_app(other, port=0) as third_party:
            browser, helpers = tree(tmp_path / "tokens" / "tenant-acme")
            for process in [browser, *helpers]:
                environ = environ_of(process)
                assert SECRET.encode() not in environ, process.cmdline()[:2]
                assert b"HERALD_SECRET_KEY" not in environ
                assert b"redis-password" not in environ
            page = driver.page
            assert page is not None
            # WhatsApp Web's CSP is enforced: page-initiated eval and foreign fetches fail.
            # (Checked from a timer and a script tag: code that DevTools evaluates itself
            # is exempt from CSP, code the page runs later is not.)
            await page.evaluate(
                """() => {
                  setTimeout(() => {
                    try { eval('1'); window.__evalVerdict = 'allowed'; }
                    catch (e) { window.__evalVerdict = e.name; }
                  }, 0);
                  const tag = document.createElement('script');
                  tag.textContent = 'window.__inlineRan = true;';
                  document.head.appendChild(tag);
                }"""
            )
            await page.wait_for_function("() => window.__evalVerdict !== undefined")
            assert await page.evaluate("() => window.__evalVerdict") == "EvalError"
            assert await page.evaluate("() => window.__inlineRan === true") is False
            fetched = await page.evaluate(
                "async (u) => { try { await fetch(u); return 'fetched'; } "
                "catch (e) { return 'blocked'; } }",
                f"{third_party}/v1/link-preview/download-image?url=https://reset.example/t0k3n",
            )
            assert fetched == "blocked"
            assert hits == []  # nothing left the page
            # ... and the bridge works all the same (init scripts are not governed by CSP).
            snapshot = await driver.snapshot()
            assert "ready" in snapshot
            config = await page.evaluate("() => window.WPPConfig")
            assert config["linkPreviewApiServers"] == []
            assert config["disableGoogleAnalytics"] is True
    finally:
        await driver.close()
        await launcher.stop()


def test_the_sandbox_decision() -> None:
    assert use_sandbox("auto", 10001) is True  # the Dockerfile's USER herald
    assert use_sandbox("auto", 0) is False  # Chromium refuses its sandbox as root
    assert use_sandbox("on", 0) is True
    assert use_sandbox("off", 10001) is False


async def test_renderers_are_sandboxed_when_chromium_is_not_root(
    simulator: str, tmp_path: Path
) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to start Chromium as another user")
    # The browser as "nobody" (what a non-root worker gives it), through a wrapper.
    wrapper = tmp_path / "chromium-as-nobody"
    wrapper.write_text(
        "#!/bin/sh\nexport HOME=/tmp\n"
        f'exec setpriv --reuid=65534 --regid=65534 --clear-groups {require_chromium()} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    tokens = tmp_path / "tokens"
    profile = tokens / "tenant-acme"
    profile.mkdir(parents=True)
    for path in (tmp_path, tokens, profile):
        os.chown(path, 65534, 65534)
    launcher, driver = await open_driver(
        simulator,
        profile,
        wppconnect_chromium_path=str(wrapper),
        wppconnect_chromium_sandbox="on",
    )
    try:
        assert driver.page is not None
        await driver.page.wait_for_function("() => !!window.WPP", timeout=30000)
        browser, helpers = tree(profile)
        assert browser.uids().real == 65534
        renderers = [p for p in helpers if "--type=renderer" in p.cmdline()]
        assert renderers
        for renderer in renderers:
            assert ns(renderer, "user") != ns(browser, "user")  # its own user namespace
            assert ns(renderer, "pid") != ns(browser, "pid")
            assert seccomp(renderer) == 2  # a seccomp-bpf filter
    finally:
        await driver.close()
        await launcher.stop()


async def test_a_root_browser_runs_unsandboxed_and_the_check_sees_it(
    simulator: str, tmp_path: Path
) -> None:
    """The negative control of the test above: as root, ``auto`` turns the sandbox off."""
    if os.geteuid() != 0:
        pytest.skip("the worker is not root here")
    profile = tmp_path / "tokens" / "tenant-acme"
    launcher, driver = await open_driver(simulator, profile)
    try:
        assert launcher.sandbox is False
        await asyncio.sleep(0)
        browser, helpers = tree(profile)
        renderers = [p for p in helpers if "--type=renderer" in p.cmdline()]
        assert renderers
        assert all(ns(r, "user") == ns(browser, "user") for r in renderers)
    finally:
        await driver.close()
        await launcher.stop()
