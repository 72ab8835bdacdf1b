"""A removed ``wppconnect`` integration (``streams.whatsapp.removal``) over fake pages and
the sealed ``file`` store: which messages are acted on, and what a removal does to a
session nobody runs (Chromium, Redis and the feed itself: the integration tests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from streams.tenancy.crypto import Cipher
from streams.whatsapp.removal import RemovalFollower
from streams.whatsapp.sealed import SealedFileTokenStore
from tests.unit.whatsapp.fakes import FakeWorld, closing_sessions


class Integrations:
    """The integration store's ``get``: the tenants that (still) have the provider."""

    def __init__(self, *present: str) -> None:
        self.present = set(present)
        self.asked: list[str] = []

    async def get(self, tenant_id: str, provider: str) -> Any:
        self.asked.append(tenant_id)
        return object() if tenant_id in self.present else None


class Store:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    async def forget(self, tenant_id: str) -> None:
        self.forgotten.append(tenant_id)


def follower(world: FakeWorld, integrations: Integrations, store: Store) -> RemovalFollower:
    return RemovalFollower(None, integrations, world.manager, store)  # type: ignore[arg-type]


async def test_only_wppconnect_removals_are_acted_on(tmp_path: Path) -> None:
    async with closing_sessions(FakeWorld(tmp_path)) as world:
        integrations, store = Integrations(), Store()
        removals = follower(world, integrations, store)
        await removals._on_message(b'{"tenantId": "acme", "provider": "twilio"}')
        await removals._on_message(b"not json")
        await removals._on_message(b'{"provider": "wppconnect"}')
        assert integrations.asked == []
        await removals._on_message(b'{"tenantId": "acme", "provider": "wppconnect"}')
        assert integrations.asked == ["acme"]
        assert list(removals.handled) == ["acme"]
        assert store.forgotten == ["acme"]


async def test_a_sealed_login_nobody_runs_is_opened_logged_out_and_deleted(
    tmp_path: Path,
) -> None:
    tokens = SealedFileTokenStore(tmp_path / "tokens", Cipher(os.urandom(32)))
    async with closing_sessions(FakeWorld(tmp_path, tokens)) as world:
        world.pair("acme")
        await tokens.save("acme", None)
        assert await tokens.forget_local("acme")  # at rest: sealed only
        store = Store()
        assert await follower(world, Integrations(), store).handle("acme")
        driver = world.fake.latest("acme")
        assert ("conn.logout", ()) in driver.calls  # the phone's linked device goes
        assert "deleteToken" in world.events.status_names("acme")
        assert not tokens.exists("acme")
        assert not tokens.sealed_path("acme").exists()
        assert store.forgotten == ["acme"]


async def test_a_tenant_with_the_integration_again_is_left_alone(tmp_path: Path) -> None:
    tokens = SealedFileTokenStore(tmp_path / "tokens", Cipher(os.urandom(32)))
    async with closing_sessions(FakeWorld(tmp_path, tokens)) as world:
        world.pair("acme")
        await tokens.save("acme", None)
        store = Store()
        assert not await follower(world, Integrations("acme"), store).handle("acme")
        assert world.fake.drivers == []
        assert tokens.sealed_path("acme").exists()
        assert store.forgotten == []
