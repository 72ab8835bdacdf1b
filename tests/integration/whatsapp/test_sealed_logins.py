"""The default (``file``) token store in real Chromium: after a session closes, its login is
on disk only encrypted; the next run restores it with no QR; another key cannot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from providers import RetryableError
from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import Settings
from streams.tenancy.crypto import Cipher
from streams.whatsapp.manager import options_for
from streams.whatsapp.sealed import SealedFileTokenStore
from tests.browser import require_chromium
from tests.helpers import make_settings, new_secret_key
from tests.integration.whatsapp.rig import browser_manager, served

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PHONE = "5511988887777"


@pytest_asyncio.fixture
async def site() -> AsyncIterator[tuple[WhatsAppWebSimulator, str]]:
    require_chromium()
    sim = WhatsAppWebSimulator(qr_interval=60)
    async with served(sim) as url:
        yield sim, url


class Worker:
    def __init__(self, url: str, folder: Path, secret: str) -> None:
        self.settings: Settings = make_settings(
            whatsapp_web_url=url,
            wppconnect_token_folder=str(folder),
            wppconnect_call_timeout_seconds=30.0,
            wppconnect_send_rate=0,
            secret_key=secret,
        )
        self.tokens = SealedFileTokenStore(folder, Cipher.from_settings(self.settings))
        self.launcher, self.events, self.manager = browser_manager(
            self.settings, tokens=self.tokens
        )

    async def ensure(self, tenant: str) -> None:
        await self.manager.ensure(tenant, options_for(self.settings, None))

    async def stop(self) -> None:
        await self.manager.close_all()
        await self.manager.drain_background()
        await self.launcher.stop()


async def test_a_closed_session_is_sealed_and_restored_without_a_qr(
    site: tuple[WhatsAppWebSimulator, str], tmp_path: Path
) -> None:
    sim, url = site
    folder, secret = tmp_path / "tokens", new_secret_key()
    one = Worker(url, folder, secret)
    try:
        await one.ensure("acme")
        await one.events.wait(lambda r: r.qrs, 60)
        await sim.scan(one.events.qrs[-1][1].url_code, PHONE)
        await one.events.wait(lambda r: "inChat" in r.status_names("acme"), 60)
        assert one.tokens.exists("acme")  # the running browser's profile
    finally:
        await one.stop()
    # Closed: the login is the sealed archive only; no plaintext profile is left behind.
    assert not one.tokens.exists("acme")
    assert one.tokens.info("acme") is not None
    assert PHONE.encode() not in one.tokens.sealed_path("acme").read_bytes()

    wrong = Worker(url, folder, new_secret_key())
    try:
        with pytest.raises(RetryableError) as refused:
            await wrong.ensure("acme")
        assert refused.value.code == "token_unreadable"
        assert wrong.events.qrs == []  # no new pairing over the sealed login
    finally:
        await wrong.stop()
    assert one.tokens.info("acme") is not None  # kept for the right key

    two = Worker(url, folder, secret)
    try:
        await two.ensure("acme")
        await two.events.wait(lambda r: "inChat" in r.status_names("acme"), 60)
        assert two.events.status_names("acme") == ["isLogged", "inChat"]
        assert two.events.qrs == []
    finally:
        await two.stop()
