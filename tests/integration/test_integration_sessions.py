"""Several wppconnect integrations per tenant: storage, upgrade, removal and selection.

Against a real Redis (one node and, with the ``redis_cluster`` mark, a cluster).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis

from providers.wppconnect import WPPConnectCredentials
from schemas import NotificationRequest
from schemas.errors import Rejection
from seeds import load_seeds
from streams.pipeline.resolve import resolve_provider
from streams.tenancy import keys
from streams.tenancy.crypto import Cipher, CryptoError
from streams.tenancy.integrations import (
    IntegrationError,
    IntegrationStore,
    InvalidIntegrationCredentials,
)
from streams.tenancy.lookups import LookupsService
from streams.tenancy.rotation import reencrypt_integrations
from streams.whatsapp.selection import select_session, session_for
from streams.whatsapp.tokens import RedisTokenStore, reencrypt_archives

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


@pytest.fixture
def tenant() -> str:
    return f"acme-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store(redis: aioredis.Redis) -> IntegrationStore:
    return IntegrationStore(redis, Cipher(os.urandom(32)))


@pytest.fixture
async def lookups(redis: aioredis.Redis) -> LookupsService:
    await load_seeds(redis)
    service = LookupsService(redis)
    await service.load()
    return service


def wpp(name: str, phone: str = "label") -> dict[str, str]:
    return {"sessionName": name, "phoneNumberId": phone}


def request(tenant: str, **extra: str) -> NotificationRequest:
    return NotificationRequest.model_validate(
        {
            "id": "n-1",
            "tenantId": tenant,
            "channel": "whatsapp",
            "recipient": {"phone": "+5511999990001"},
            "content": {"body": "hi"},
            **extra,
        }
    )


async def test_each_session_name_is_its_own_integration(
    store: IntegrationStore, redis: aioredis.Redis, tenant: str
) -> None:
    first = await store.set(tenant, "wppconnect", wpp("support"), is_default=True)
    second = await store.set(tenant, "wppconnect", wpp("sales"))
    # The first keeps the single-integration field (and so its keys); the second is named.
    assert (first.name, first.session_name) == ("wppconnect", "support")
    assert (second.name, second.session_name) == ("wppconnect@sales", "sales")
    fields = sorted(k.decode() for k in await redis.hkeys(keys.integrations(tenant)))
    assert fields == ["wppconnect", "wppconnect@sales"]
    # Setting a session again replaces that session only.
    again = await store.set(tenant, "wppconnect", wpp("sales", "5511922220002"), priority=5)
    assert again.name == "wppconnect@sales"
    assert len(await store.instances(tenant, "wppconnect")) == 2
    creds = await store.credentials(tenant, "wppconnect@sales")
    assert isinstance(creds, WPPConnectCredentials)
    assert creds.phone_number_id == "5511922220002"
    # Each record is bound to its own name: one cannot be passed off as the other.
    raw = await redis.hget(keys.integrations(tenant), "wppconnect@sales")
    await redis.hset(keys.integrations(tenant), "wppconnect", raw)  # type: ignore[arg-type]
    with pytest.raises(CryptoError):
        await store.credentials(tenant, "wppconnect")


async def test_a_session_name_must_fit_in_keys_and_urls(
    store: IntegrationStore, tenant: str
) -> None:
    for bad in ("sales/eu", "sales@eu", "sales eu", "-sales", "x" * 65):
        with pytest.raises(InvalidIntegrationCredentials) as caught:
            await store.set(tenant, "wppconnect", wpp(bad))
        assert "sessionName" in caught.value.errors


async def test_records_stored_before_session_names_are_found(
    store: IntegrationStore, redis: aioredis.Redis, tenant: str, lookups: LookupsService
) -> None:
    """An integration stored by an older Herald has no ``sessionName`` in its summary and
    may carry ``useChrome``: it still loads, keeps its name, and a new session with another
    name is added beside it."""
    await store.set(tenant, "wppconnect", wpp("support"), is_default=True)
    key = keys.integrations(tenant)
    record = orjson.loads(await redis.hget(key, "wppconnect"))  # type: ignore[arg-type]
    del record["sessionName"]
    cipher = store._require_cipher()
    legacy = {"providerType": "wppconnect", "useChrome": False, **wpp("support")}
    record["credentials"] = cipher.encrypt(orjson.dumps(legacy), f"{tenant}:wppconnect".encode())
    await redis.hset(key, "wppconnect", orjson.dumps(record))

    creds = await store.credentials(tenant, "wppconnect")
    assert isinstance(creds, WPPConnectCredentials)
    assert "useChrome" not in creds.model_dump(by_alias=True)
    same = await store.set(tenant, "wppconnect", wpp("support"), is_default=True)
    assert same.name == "wppconnect"
    await redis.hset(key, "wppconnect", orjson.dumps(record))  # old again
    other = await store.set(tenant, "wppconnect", wpp("sales"))
    assert other.name == "wppconnect@sales"
    resolved = await resolve_provider(request(tenant, sender="support"), lookups, store)
    assert resolved.integration == "wppconnect"


async def test_sender_selects_the_session_and_the_default_is_documented(
    store: IntegrationStore, tenant: str, lookups: LookupsService
) -> None:
    await store.set(tenant, "wppconnect", wpp("support"))
    await store.set(tenant, "wppconnect", wpp("sales"))
    # Neither flagged default, same priority: the first stored.
    assert (await resolve_provider(request(tenant), lookups, store)).integration == "wppconnect"
    chosen = await resolve_provider(request(tenant, sender="sales"), lookups, store)
    assert chosen.integration == "wppconnect@sales"
    assert isinstance(chosen.credentials, WPPConnectCredentials)
    assert chosen.credentials.session_name == "sales"
    # A lower priority wins over the first stored; the default flag over both.
    await store.set(tenant, "wppconnect", wpp("sales"), priority=10)
    assert (await resolve_provider(request(tenant), lookups, store)).integration == (
        "wppconnect@sales"
    )
    await store.set(tenant, "wppconnect", wpp("support"), is_default=True)
    _, ref = await session_for(request(tenant), lookups, store)
    assert (ref.sid, ref.session_name, ref.is_default) == (tenant, "support", True)
    _, ref = await select_session(tenant, "sales", lookups, store)
    assert (ref.sid, ref.session_name, ref.is_default) == (f"{tenant}@sales", "sales", False)

    with pytest.raises(Rejection) as caught:
        await resolve_provider(request(tenant, sender="marketing"), lookups, store)
    assert caught.value.code == "unknown_sender"
    # A sender with another provider than the session's is unknown to that provider.
    with pytest.raises(Rejection) as caught:
        await resolve_provider(
            request(tenant, sender="sales", provider="whatsapp-business"), lookups, store
        )
    assert caught.value.code == "unknown_sender"
    # An inactive session is not used; naming it says so.
    await store.set(tenant, "wppconnect", wpp("sales"), is_active=False)
    with pytest.raises(Rejection) as caught:
        await resolve_provider(request(tenant, sender="sales"), lookups, store)
    assert caught.value.code == "provider_inactive"


async def test_removing_needs_the_session_when_there_are_several(
    store: IntegrationStore, tenant: str
) -> None:
    await store.set(tenant, "wppconnect", wpp("support"))
    await store.set(tenant, "wppconnect", wpp("sales"))
    with pytest.raises(IntegrationError, match="sales, support"):
        await store.remove(tenant, "wppconnect")
    assert not await store.remove(tenant, "wppconnect", "marketing")
    assert await store.remove(tenant, "wppconnect", "support")
    # The remaining one keeps its own name (and keys); a new first one takes the free field.
    [left] = await store.instances(tenant, "wppconnect")
    assert left.name == "wppconnect@sales"
    added = await store.set(tenant, "wppconnect", wpp("billing"))
    assert added.name == "wppconnect"
    assert await store.remove(tenant, "wppconnect", "sales")
    assert await store.remove(tenant, "wppconnect")  # only one left: no name needed


async def test_key_rotation_reaches_every_session(
    redis: aioredis.Redis, tenant: str, tmp_path: Path
) -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = Cipher(old)
    store = IntegrationStore(redis, before)
    await store.set(tenant, "wppconnect", wpp("support"))
    await store.set(tenant, "wppconnect", wpp("sales"))
    tokens = RedisTokenStore(tmp_path / "w1", redis, before)
    for sid in (tenant, f"{tenant}@sales"):
        (tokens.profile_dir(sid) / "Local Storage").mkdir()
        (tokens.profile_dir(sid) / "Local Storage" / "login").write_text(sid)
        assert await tokens.save(sid, None) is not None

    rotating = Cipher(new, [old])
    integrations = await reencrypt_integrations(redis, rotating)
    assert sorted(i for i in integrations.rotated if i.startswith(tenant)) == [
        f"{tenant}:wppconnect",
        f"{tenant}:wppconnect@sales",
    ]
    archives = await reencrypt_archives(redis, rotating)
    assert {tenant, f"{tenant}@sales"} <= set(archives.rotated)

    after = Cipher(new)
    assert await IntegrationStore(redis, after).credentials(tenant, "wppconnect@sales")
    other = RedisTokenStore(tmp_path / "w2", redis, after)
    assert await other.restore(f"{tenant}@sales")
    restored = other.path(f"{tenant}@sales") / "Local Storage" / "login"
    assert restored.read_text() == f"{tenant}@sales"
