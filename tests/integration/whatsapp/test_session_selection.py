"""Selecting one of a tenant's sessions in commands and endpoints (one helper for both).

Real Redis (integrations, session hashes, QR copies, API keys), fake pages instead of
Chromium: a ``connect`` with ``sessionName`` starts that session, the endpoints read it
with ``?session=``, a ``disconnect`` for one session leaves the other running, an unknown
name starts nothing and is 404 on the endpoints.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from schemas.whatsapp import CommandName, SessionCommand
from seeds import load_seeds
from streams.pipeline.decode import DeadLetter, RawRecord
from streams.pipeline.ratelimit import TokenBucket
from streams.pipeline.state import NotificationState
from streams.pipeline.updates import StatusUpdater
from streams.platform.sink import MemorySink
from streams.tenancy.auth import TenantKeys
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.whatsapp import (
    CommandProcessor,
    FileTokenStore,
    MemoryWhatsAppSink,
    SessionEndpoints,
    SessionEvents,
    SessionManager,
    SessionRef,
    SessionStore,
    decode_command,
    select_session,
)
from tests.helpers import make_settings
from tests.unit.whatsapp.fakes import FakeWhatsApp

pytestmark = [pytest.mark.integration]


@dataclass
class Rig:
    manager: SessionManager
    commands: CommandProcessor
    endpoints: SessionEndpoints
    sink: MemoryWhatsAppSink
    produced: list[SessionCommand]
    headers: dict[str, str]


@pytest_asyncio.fixture
async def rig(redis: Redis, tmp_path: Path) -> AsyncIterator[Rig]:
    await load_seeds(redis)
    lookups = LookupsService(redis)
    await lookups.load()
    cipher = Cipher(os.urandom(32))
    integrations = IntegrationStore(redis, cipher)
    await integrations.set(
        "acme", "wppconnect", {"sessionName": "support", "phoneNumberId": "p"}, is_default=True
    )
    await integrations.set("acme", "wppconnect", {"sessionName": "sales", "phoneNumberId": "p"})
    store = SessionStore(redis, owner="w1", cipher=cipher)
    sink = MemoryWhatsAppSink()
    state = NotificationState(redis, ttl_seconds=60, correlation_ttl_seconds=60)
    events = SessionEvents(store, sink, StatusUpdater(state, MemorySink()))
    settings = make_settings(wppconnect_token_folder=str(tmp_path / "tokens"))
    manager = SessionManager(
        settings,
        driver_factory=FakeWhatsApp().factory,
        listener=events,
        tokens=FileTokenStore(tmp_path / "tokens"),
    )
    commands = CommandProcessor(
        sessions=manager,
        events=events,
        sink=MemorySink(),
        lookups=lookups,
        integrations=integrations,
    )
    produced: list[SessionCommand] = []

    async def produce(command: SessionCommand) -> None:
        produced.append(command)

    async def select(tenant_id: str, session: str | None) -> SessionRef:
        return (await select_session(tenant_id, session, lookups, integrations))[1]

    keys = TenantKeys(redis)
    endpoints = SessionEndpoints(
        keys=keys, bucket=TokenBucket(redis), store=store, commands=produce, select=select
    )
    headers = {"Authorization": f"Bearer {(await keys.create('acme'))[0]}"}
    try:
        yield Rig(manager, commands, endpoints, sink, produced, headers)
    finally:
        await manager.close_all()


async def test_commands_and_endpoints_name_the_session(rig: Rig) -> None:
    connect = SessionCommand(tenant_id="acme", command=CommandName.CONNECT, session_name="sales")
    await rig.commands.execute(connect)
    sales = rig.manager.get("acme@sales")
    assert sales is not None
    assert sales.running
    assert rig.manager.get("acme") is None
    [qr] = await rig.sink.wait_for(lambda s: s.qrs)
    assert (qr.session_name, qr.session) == ("sales", "tenant-acme@sales")
    assert qr.qr_url == "/webhooks/wppconnect/qr/acme?session=sales"

    served = await rig.endpoints.qr("acme", rig.headers, "sales")
    assert served.status == 200
    assert orjson.loads(served.body)["urlCode"] == qr.url_code
    assert (await rig.endpoints.qr("acme", rig.headers)).status == 404  # support: not started
    view = orjson.loads((await rig.endpoints.session("acme", rig.headers, "sales")).body)
    assert (view["sessionName"], view["status"]) == ("sales", "notLogged")
    unknown = await rig.endpoints.session("acme", rig.headers, "marketing")
    assert unknown.status == 404
    assert orjson.loads(unknown.body)["code"] == "unknown_session"

    # No name: the default session (support), under the single-session names.
    await rig.commands.execute(SessionCommand(tenant_id="acme", command=CommandName.CONNECT))
    support = rig.manager.get("acme")
    assert support is not None
    assert support.running
    qrs = await rig.sink.wait_for(lambda s: s.qrs if len(s.qrs) == 2 else None)
    assert (qrs[1].session_name, qrs[1].qr_url) == ("support", "/webhooks/wppconnect/qr/acme")
    default_view = orjson.loads((await rig.endpoints.session("acme", rig.headers)).body)
    assert default_view["sessionName"] == "support"

    # The endpoint's disconnect names the session; only that one closes.
    answer = await rig.endpoints.command("acme", CommandName.DISCONNECT, rig.headers, "sales")
    assert answer.status == 202
    assert orjson.loads(answer.body)["sessionName"] == "sales"
    [command] = rig.produced
    assert command.session_name == "sales"
    await rig.commands.execute(command)
    assert not sales.running
    assert support.running

    # An unknown name starts nothing.
    nowhere = SessionCommand(
        tenant_id="acme", command=CommandName.CONNECT, session_name="marketing"
    )
    await rig.commands.execute(nowhere)
    assert rig.manager.get("acme@marketing") is None
    refused = await rig.endpoints.command("acme", CommandName.DISCONNECT, rig.headers, "nope")
    assert refused.status == 404
    assert len(rig.produced) == 1


def test_a_command_with_a_bad_session_name_is_a_dead_letter() -> None:
    raw = b'{"tenantId": "acme", "command": "connect", "sessionName": ""}'
    decoded = decode_command(RawRecord(key=b"acme", value=raw, topic="t", partition=0, offset=1))
    assert isinstance(decoded, DeadLetter)
    assert "sessionName" in decoded.info.detail
