"""The live tier: the doctor and the QR part of a session against the real WhatsApp Web.

Marked ``live``: they run where https://web.whatsapp.com is reachable from this machine
and are skipped, with that reason, elsewhere (a TCP probe of a few seconds decides, once
per run). Run them before upgrading wa-js or the pinned WhatsApp Web build
(docs/whatsapp-web.md): ``.venv/bin/pytest -m live -rs``. They never link a phone: the
QR is obtained and the session closed, on a throw-away profile.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from streams.cli.errors import ExitCode
from streams.cli.main import main
from streams.whatsapp.manager import options_for
from streams.whatsapp.tokens import FileTokenStore
from tests.browser import require_chromium
from tests.helpers import kept_root_logging, make_settings
from tests.integration.whatsapp.rig import browser_manager

pytestmark = [pytest.mark.live, pytest.mark.integration, pytest.mark.timeout(240)]

#: The real site; ``HERALD_LIVE_WHATSAPP_URL`` points the tier elsewhere (to try it here).
LIVE_URL = os.environ.get("HERALD_LIVE_WHATSAPP_URL") or "https://web.whatsapp.com"
PROBE_SECONDS = 3.0


@functools.cache
def unreachable(url: str = LIVE_URL) -> str | None:
    """Why ``url`` cannot be reached from here (``None``: it can). DNS and TCP, bounded."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=PROBE_SECONDS):
                outcome.append(None)
        except OSError as exc:
            outcome.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=connect, daemon=True)  # getaddrinfo has no timeout
    thread.start()
    thread.join(PROBE_SECONDS + 0.5)
    if not outcome:
        return f"{host}:{port} did not answer within {PROBE_SECONDS:g}s"
    return None if outcome[0] is None else f"{host}:{port} is not reachable ({outcome[0]})"


@pytest.fixture(autouse=True)
def live_site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    reason = unreachable()
    if reason is not None:
        pytest.skip(f"live tier: {reason}")
    require_chromium()
    monkeypatch.chdir(tmp_path)
    for name in ("LOG_LEVEL", "LOG_FORMAT", "WHATSAPP_WEB_URL"):
        monkeypatch.delenv(name, raising=False)
    with kept_root_logging():
        yield


async def test_the_doctor_passes_on_the_real_site(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["whatsapp", "doctor", "--url", LIVE_URL, "--timeout", "90", "--json"]
    code = await asyncio.to_thread(main, argv)
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == ExitCode.OK, out + err
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["wa-js"]["details"]["loaderType"] in ("meta", "webpack")
    assert checks["whatsapp web"]["details"]["version"].startswith("2.")


async def test_a_session_shows_a_qr_code_from_the_real_site(tmp_path: Path) -> None:
    settings = make_settings(
        whatsapp_web_url=LIVE_URL,
        wppconnect_token_folder=str(tmp_path / "tokens"),
        wppconnect_call_timeout_seconds=60.0,
    )
    launcher, events, manager = browser_manager(
        settings, tokens=FileTokenStore(settings.wppconnect_token_folder)
    )
    try:
        await manager.ensure("live", options_for(settings, None))
        await events.wait(lambda r: r.qrs, 120)
        _, qr = events.qrs[0]
        assert qr.url_code.startswith("2@")  # a multi-device auth code, as WhatsApp makes them
        assert "notLogged" in events.status_names("live")
    finally:
        await manager.close_all()
        await launcher.stop()
