"""The ``pairingCode`` command on the owning worker: the session over a fake page, seeds,
integrations and the answer in a real redis-server (no broker, no browser)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from schemas.whatsapp import CommandName, SessionCommand
from seeds import load_seeds
from streams.pipeline.state import NotificationState
from streams.pipeline.updates import StatusUpdater
from streams.platform.sink import MemorySink
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.whatsapp import SessionStore
from streams.whatsapp.commands import CommandProcessor
from streams.whatsapp.events import MemoryWhatsAppSink, SessionEvents
from streams.whatsapp.manager import SessionManager
from streams.whatsapp.tokens import FileTokenStore
from tests.helpers import make_settings
from tests.unit.whatsapp.fakes import FakeWhatsApp, closing_sessions

pytestmark = pytest.mark.integration

PHONE = "5511999990001"


class Worker:
    """A WhatsApp worker's command path, its sessions over fake pages."""

    def __init__(self, tmp: Path, redis: Redis, cipher: Cipher, lookups: LookupsService) -> None:
        self.fake = FakeWhatsApp()
        self.sink = MemoryWhatsAppSink()
        self.store = SessionStore(redis, owner="w1", cipher=cipher)
        state = NotificationState(redis, ttl_seconds=60, correlation_ttl_seconds=60)
        events = SessionEvents(self.store, self.sink, StatusUpdater(state, MemorySink()))
        self.manager = SessionManager(
            make_settings(wppconnect_token_folder=str(tmp / "tokens")),
            driver_factory=self.fake.factory,
            listener=events,
            tokens=FileTokenStore(tmp / "tokens"),
        )
        self.processor = CommandProcessor(
            sessions=self.manager,
            events=events,
            sink=MemorySink(),
            lookups=lookups,
            integrations=IntegrationStore(redis, cipher),
        )

    async def ask(self, tenant: str, request_id: str) -> dict[str, object] | None:
        command = SessionCommand(
            tenant_id=tenant, command=CommandName.PAIRING_CODE, phone=PHONE, request_id=request_id
        )
        await self.processor.execute(command)
        return await self.store.take_link_result(tenant, request_id)


@pytest_asyncio.fixture
async def worker(redis: Redis, tmp_path: Path) -> AsyncIterator[Worker]:
    cipher = Cipher(os.urandom(32))
    await load_seeds(redis)
    await IntegrationStore(redis, cipher).set(
        "acme", "wppconnect", {"sessionName": "acme", "phoneNumberId": "w-1"}, is_default=True
    )
    lookups = LookupsService(redis)
    await lookups.load()
    async with closing_sessions(Worker(tmp_path, redis, cipher, lookups)) as worker:
        yield worker


async def test_the_owner_starts_the_session_and_answers_with_the_code(worker: Worker) -> None:
    answer = await worker.ask("acme", "req-00000001")
    assert answer is not None
    driver = worker.fake.latest("acme")
    assert answer["pairingCode"] == f"LINK-{driver.code_number:04d}"
    assert driver.link_phone == PHONE
    [event] = [e for e in worker.sink.qrs if e.pairing_code]
    assert (event.tenant_id, event.pairing_code, event.phone) == (
        "acme",
        answer["pairingCode"],
        PHONE,
    )
    assert event.expires_at.isoformat() == answer["expiresAt"]
    assert event.qr_code is None

    # Linked: no code to give, said so to whoever asks.
    driver.scan(PHONE)
    async with asyncio.timeout(5):
        await worker.sink.wait_for(lambda s: "inChat" in s.statuses("acme"))
    linked = await worker.ask("acme", "req-00000002")
    assert linked is not None
    assert linked["error"] == {
        "code": "already_linked",
        "message": "the session is linked to a phone already",
        "retryable": False,
    }


async def test_a_tenant_without_an_integration_is_told_why(worker: Worker) -> None:
    answer = await worker.ask("globex", "req-00000003")
    assert answer is not None
    error = answer["error"]
    assert isinstance(error, dict)
    assert error["retryable"] is False
    assert error["code"] == "no_integration"
    assert worker.manager.get("globex") is None  # nothing started
