"""``herald whatsapp doctor`` in real Chromium: the simulator passes; a page that 404s, a
page where wa-js never becomes ready and a missing wa-js bundle fail with their exit code.

The CLI runs in-process (``main(argv)``, in a thread: it runs its own event loop) while
the pages are served from the test's loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from sandbox import serve_app
from sandbox.whatsapp_web import WhatsAppWebSimulator
from streams.cli.errors import ExitCode
from streams.cli.main import main
from tests.browser import require_chromium
from tests.helpers import kept_root_logging
from tests.integration.whatsapp.rig import served

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No ``.env``; the settings a worker would have; Herald's log handler removed after."""
    require_chromium()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WHATSAPP_WPPCONNECT_CALL_TIMEOUT", "20")
    for name in ("LOG_LEVEL", "LOG_FORMAT", "WHATSAPP_WPPCONNECT_WAJS_PATH"):
        monkeypatch.delenv(name, raising=False)
    with kept_root_logging():
        yield


@pytest_asyncio.fixture
async def simulator() -> AsyncIterator[tuple[WhatsAppWebSimulator, str]]:
    sim = WhatsAppWebSimulator(qr_interval=60)
    async with served(sim) as url:
        yield sim, url


async def doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, ["whatsapp", "doctor", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def lines(out: str) -> dict[str, str]:
    """``{check name: its line}`` of the rendered report."""
    names = ("browser", "page", "whatsapp web", "wa-js", "authentication", "auth code")
    found = {}
    for line in out.splitlines():
        for name in names:
            if line[2:].startswith(name + " "):
                found[name] = line
    return found


async def test_with_a_pin_the_doctor_opens_the_pinned_build(
    capsys: pytest.CaptureFixture[str],
    simulator: tuple[WhatsAppWebSimulator, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """WHATSAPP_WEB_VERSION: the doctor is served the pinned page, as a session is."""
    _, url = simulator
    page = (resources.files("sandbox.whatsapp_web") / "static" / "index.html").read_text()
    pinned = re.sub(r'(name="wa-version" content=")[^"]*', r"\g<1>2.3000.2000000000", page)
    (tmp_path / "cache" / "whatsapp-web").mkdir(parents=True)
    (tmp_path / "cache" / "whatsapp-web" / "2.3000.2000000000.html").write_text(pinned)
    monkeypatch.setenv("WHATSAPP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WHATSAPP_WEB_VERSION", "2.3000.2000000000")
    code, out, err = await doctor(capsys, "--url", url + "/", "--timeout", "30", "--json")
    assert code == ExitCode.OK, out + err
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["whatsapp web"]["details"] == {
        "version": "2.3000.2000000000",
        "pinned": "2.3000.2000000000",
    }


async def test_the_simulator_passes_every_check(
    capsys: pytest.CaptureFixture[str], simulator: tuple[WhatsAppWebSimulator, str]
) -> None:
    sim, url = simulator
    seen: set[str] = set()

    async def watch_codes() -> None:  # the codes the simulator hands to the doctor's page
        while True:
            codes = await sim.wait_for(lambda: [c.full_code for c in sim.pending_codes()])
            seen.update(codes)
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch_codes())
    try:
        code, out, err = await doctor(capsys, "--url", url + "/", "--timeout", "30", "--json")
    finally:
        watcher.cancel()
    assert code == ExitCode.OK, out + err
    report = json.loads(out)
    assert report["ok"] is True
    checks = {c["name"]: c for c in report["checks"]}
    assert [c["outcome"] for c in report["checks"]] == ["ok"] * 6
    assert checks["page"]["details"]["status"] == 200
    # The version the simulator's page says in its <meta name="wa-version">.
    assert checks["whatsapp web"]["details"]["version"] == "2.3000.1000000000"
    assert checks["wa-js"]["details"]["ready"] is True
    assert checks["wa-js"]["details"]["version"] == "4.6.0"
    assert checks["wa-js"]["details"]["loaderType"] == "simulator"
    assert checks["authentication"]["details"]["authenticated"] is False
    assert checks["authentication"]["details"]["state"] == "UNPAIRED"
    # The code the doctor obtained is one the simulator issued; the code itself is not shown.
    refs = {hashlib.sha256(c.encode()).hexdigest()[:16] for c in seen}
    assert checks["auth code"]["details"]["qrRef"] in refs
    assert not any(c in out for c in seen)


async def test_the_lines_say_pass_or_fail(
    capsys: pytest.CaptureFixture[str], simulator: tuple[WhatsAppWebSimulator, str]
) -> None:
    _, url = simulator
    code, out, _ = await doctor(capsys, "--url", url + "/nowhere", "--timeout", "5")
    assert code == ExitCode.FAILED
    found = lines(out)
    assert found["browser"].startswith("✓")
    assert found["page"].startswith("✗")
    assert "answered HTTP 404" in found["page"]
    assert "hint: check WHATSAPP_WEB_URL" in out
    for later in ("whatsapp web", "wa-js", "authentication", "auth code"):
        assert found[later].startswith("-")
        assert "not checked (the page did not load)" in found[later]


async def test_a_page_where_wajs_never_becomes_ready_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def page(_: web.Request) -> web.Response:
        return web.Response(
            text="<!doctype html><title>Not WhatsApp</title><p>hello", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/", page)
    async with serve_app(app, port=0) as url:
        code, out, _ = await doctor(capsys, "--url", url + "/", "--timeout", "3", "--json")
    assert code == ExitCode.FAILED
    report = json.loads(out)
    assert report["ok"] is False
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["page"]["outcome"] == "ok"
    wajs = checks["wa-js"]
    assert wajs["outcome"] == "fail"
    # The real bundle was injected and waits for a module loader the page does not have.
    assert wajs["details"]["injected"] is True
    assert wajs["details"]["ready"] is False
    assert wajs["details"]["metaModules"] is False
    assert wajs["details"]["webpackChunks"] is False
    assert "WPP.isReady stayed false" in wajs["summary"]
    assert checks["whatsapp web"]["outcome"] == "fail"
    assert checks["authentication"]["outcome"] == "skip"
    assert checks["auth code"]["outcome"] == "skip"


async def test_an_unreachable_page_fails(capsys: pytest.CaptureFixture[str]) -> None:
    app = web.Application()
    async with serve_app(app, port=0) as url:
        pass  # the port is free again: nothing listens there
    code, out, _ = await doctor(capsys, "--url", url + "/", "--timeout", "3")
    assert code == ExitCode.FAILED
    assert "ERR_CONNECTION_REFUSED" in lines(out)["page"]


async def test_no_wajs_bundle_is_unavailable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WHATSAPP_WPPCONNECT_WAJS_PATH", str(tmp_path / "missing.js"))
    code, out, _ = await doctor(capsys, "--url", "http://127.0.0.1:9/", "--timeout", "3")
    assert code == ExitCode.UNAVAILABLE
    found = lines(out)
    assert found["browser"].startswith("✗")
    assert "the wa-js bundle is missing" in found["browser"]
    assert all(found[n].startswith("-") for n in ("page", "wa-js", "auth code"))
