"""The integration store against a real Redis: encryption, defaults, indexes, errors."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from schemas.credentials import WhatsAppBusinessCredentials, WPPConnectCredentials
from schemas.integration import SYSTEM_TENANT
from streams.tenancy import keys
from streams.tenancy.crypto import (
    Cipher,
    DecryptionFailed,
    MissingSecretKey,
    decode_key,
    generate_key,
)
from streams.tenancy.integrations import (
    IntegrationStore,
    InvalidIntegrationCredentials,
    InvalidTenantId,
    UnknownProvider,
    credential_models,
)

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

SECRETS = ("EAAG-access-token-0001", "app-secret-0002", "verify-token-0003")


def wa_creds(phone_number_id: str = "1100001", **extra: Any) -> dict[str, Any]:
    return {
        "phoneNumberId": phone_number_id,
        "accessToken": SECRETS[0],
        "appSecret": SECRETS[1],
        "verifyToken": SECRETS[2],
        **extra,
    }


def wpp_creds() -> dict[str, Any]:
    return {"sessionName": "acme-session", "phoneNumberId": "5511999990000"}


@pytest.fixture
def tenant() -> str:
    return f"acme-{uuid.uuid4().hex[:8]}"


def new_key() -> bytes:
    return decode_key(generate_key())


@pytest.fixture
def cipher() -> Cipher:
    return Cipher(new_key())


@pytest.fixture
def store(redis: aioredis.Redis, cipher: Cipher) -> IntegrationStore:
    return IntegrationStore(redis, cipher)


async def test_set_get_and_decrypt(
    store: IntegrationStore, redis: aioredis.Redis, tenant: str, cipher: Cipher
) -> None:
    summary = await store.set(tenant, "whatsapp-business", wa_creds(), is_default=True)
    assert summary.tenant_id == tenant
    assert summary.provider == "whatsapp-business"
    assert summary.channel == "whatsapp"
    assert summary.is_default
    assert summary.is_active
    assert summary.priority == 100
    assert summary.key_id == cipher.key_id
    assert summary.credential_fields == ["accessToken", "appSecret", "phoneNumberId", "verifyToken"]
    assert await store.get(tenant, "whatsapp-business") == summary

    creds = await store.credentials(tenant, "whatsapp-business")
    assert isinstance(creds, WhatsAppBusinessCredentials)
    assert creds.phone_number_id == "1100001"
    assert creds.access_token.get_secret_value() == SECRETS[0]
    assert creds.verify_token.get_secret_value() == SECRETS[2]


async def test_secrets_are_never_stored_or_returned_in_clear(
    store: IntegrationStore, redis: aioredis.Redis, tenant: str
) -> None:
    summary = await store.set(tenant, "whatsapp-business", wa_creds())
    raw = await redis.hget(keys.integrations(tenant), "whatsapp-business")
    assert raw is not None
    record = orjson.loads(raw)
    assert record["credentials"].startswith("v1.")
    dumped = [raw, summary.to_json(), repr(summary)]
    dumped += [s.to_json() for s in await store.list(tenant)]
    for text in dumped:
        for secret in SECRETS:
            assert secret.encode() not in (text if isinstance(text, bytes) else text.encode())
    index_keys = [k async for k in redis.scan_iter(match="herald:integration-index:*")]
    for key in index_keys:
        for secret in SECRETS:
            assert secret.encode() not in key


async def test_missing_and_unknown_and_absent(store: IntegrationStore, tenant: str) -> None:
    assert await store.get(tenant, "whatsapp-business") is None
    assert await store.credentials(tenant, "whatsapp-business") is None
    assert await store.list(tenant) == []
    assert await store.remove(tenant, "whatsapp-business") is False


async def test_unknown_provider_lists_the_known_ones(store: IntegrationStore, tenant: str) -> None:
    with pytest.raises(UnknownProvider, match="whatsapp-business") as info:
        await store.set(tenant, "carrier-pigeon", {"x": "y"})
    assert info.value.known == sorted(credential_models())
    assert {"whatsapp-business", "wppconnect"} <= set(info.value.known)


async def test_validation_errors_name_wire_fields_without_values(
    store: IntegrationStore, tenant: str
) -> None:
    creds = wa_creds()
    del creds["appSecret"]
    creds["phoneNumberId"] = ""
    creds["bogusField"] = SECRETS[1]
    with pytest.raises(InvalidIntegrationCredentials) as info:
        await store.set(tenant, "whatsapp-business", creds)
    error = info.value
    assert error.errors["appSecret"] == "missing"
    assert "phoneNumberId" in error.errors
    assert "bogusField" in error.errors
    message = str(error)
    assert "appSecret: missing" in message
    for secret in SECRETS:
        assert secret not in message
        assert secret not in repr(error.errors)
    assert error.__cause__ is None
    assert error.__suppress_context__
    assert await store.get(tenant, "whatsapp-business") is None


async def test_provider_type_is_injected_and_must_match(
    store: IntegrationStore, tenant: str
) -> None:
    summary = await store.set(
        tenant, "whatsapp-business", wa_creds(providerType="whatsapp-business")
    )
    assert "providerType" not in summary.credential_fields
    with pytest.raises(InvalidIntegrationCredentials, match="providerType"):
        await store.set(tenant, "whatsapp-business", wa_creds(providerType="wppconnect"))


async def test_tenant_ids_are_validated(store: IntegrationStore) -> None:
    for bad in ("", "has space", "-leading", "x" * 200, "{brace}"):
        with pytest.raises(InvalidTenantId):
            await store.set(bad, "whatsapp-business", wa_creds())
        with pytest.raises(InvalidTenantId):
            await store.list(bad)
    summary = await store.set(SYSTEM_TENANT, "whatsapp-business", wa_creds())
    assert summary.tenant_id == "_system"
    assert await store.remove(SYSTEM_TENANT, "whatsapp-business")


async def test_one_default_per_channel(store: IntegrationStore, tenant: str) -> None:
    await store.set(tenant, "whatsapp-business", wa_creds(), is_default=True)
    await store.set(tenant, "wppconnect", wpp_creds(), is_default=True)
    wa = await store.get(tenant, "whatsapp-business")
    wpp = await store.get(tenant, "wppconnect")
    assert wa is not None
    assert not wa.is_default
    assert wpp is not None
    assert wpp.is_default
    # The old default keeps its credentials.
    assert await store.credentials(tenant, "whatsapp-business") is not None
    # Another tenant's default is untouched.
    other = f"{tenant}-other"
    await store.set(other, "whatsapp-business", wa_creds(), is_default=True)
    await store.set(tenant, "whatsapp-business", wa_creds(), is_default=True)
    other_wa = await store.get(other, "whatsapp-business")
    assert other_wa is not None
    assert other_wa.is_default


async def test_concurrent_defaults_leave_exactly_one(
    redis: aioredis.Redis, cipher: Cipher, tenant: str
) -> None:
    stores = [IntegrationStore(redis, cipher) for _ in range(2)]
    await asyncio.gather(
        *(
            s.set(tenant, provider, creds, is_default=True)
            for _ in range(5)
            for s, (provider, creds) in zip(
                stores,
                [("whatsapp-business", wa_creds()), ("wppconnect", wpp_creds())],
                strict=True,
            )
        )
    )
    defaults = [s for s in await stores[0].list(tenant) if s.is_default]
    assert len(defaults) == 1


async def test_for_channel_orders_default_first_then_priority(
    store: IntegrationStore, tenant: str
) -> None:
    await store.set(tenant, "whatsapp-business", wa_creds(), priority=5)
    await store.set(tenant, "wppconnect", wpp_creds(), priority=50, is_default=True)
    assert [s.provider for s in await store.for_channel(tenant, "whatsapp")] == [
        "wppconnect",
        "whatsapp-business",
    ]
    await store.set(tenant, "wppconnect", wpp_creds(), priority=50)
    assert [s.provider for s in await store.for_channel(tenant, "whatsapp")] == [
        "whatsapp-business",
        "wppconnect",
    ]
    await store.set(tenant, "whatsapp-business", wa_creds(), is_active=False)
    assert [s.provider for s in await store.for_channel(tenant, "whatsapp")] == ["wppconnect"]
    assert await store.for_channel(tenant, "email") == []
    assert [s.provider for s in await store.list(tenant)] == ["wppconnect", "whatsapp-business"]


async def test_index_follows_overwrite_and_remove(store: IntegrationStore, tenant: str) -> None:
    phone, verify = f"phone-{tenant}", f"verify-{tenant}"
    await store.set(tenant, "whatsapp-business", wa_creds(phone, verifyToken=verify))
    assert await store.tenants_by_index("whatsapp-business", "phone_number_id", phone) == [tenant]
    assert await store.tenants_by_index("whatsapp-business", "verify_token", verify) == [tenant]

    other = f"{tenant}-b"
    await store.set(other, "whatsapp-business", wa_creds(phone))
    assert await store.tenants_by_index("whatsapp-business", "phone_number_id", phone) == sorted(
        [tenant, other]
    )

    # Overwriting moves the tenant from the old values' index sets to the new ones.
    await store.set(tenant, "whatsapp-business", wa_creds(f"{phone}-new", verifyToken=verify))
    assert await store.tenants_by_index("whatsapp-business", "phone_number_id", phone) == [other]
    assert await store.tenants_by_index("whatsapp-business", "phone_number_id", f"{phone}-new") == [
        tenant
    ]
    assert await store.tenants_by_index("whatsapp-business", "verify_token", verify) == [tenant]

    assert await store.remove(tenant, "whatsapp-business") is True
    assert not await store.tenants_by_index("whatsapp-business", "phone_number_id", f"{phone}-new")
    assert await store.tenants_by_index("whatsapp-business", "verify_token", verify) == []
    assert await store.get(tenant, "whatsapp-business") is None
    assert await store.tenants_by_index("whatsapp-business", "phone_number_id", phone) == [other]


async def test_unimplemented_provider_with_a_model_is_stored_unindexed(
    store: IntegrationStore, tenant: str
) -> None:
    summary = await store.set(tenant, "wppconnect", wpp_creds())
    assert summary.channel == "whatsapp"
    creds = await store.credentials(tenant, "wppconnect")
    assert isinstance(creds, WPPConnectCredentials)
    assert creds.session_name == "acme-session"


async def test_credentials_are_bound_to_tenant_and_provider(
    store: IntegrationStore, redis: aioredis.Redis, tenant: str
) -> None:
    await store.set(tenant, "whatsapp-business", wa_creds())
    raw = await redis.hget(keys.integrations(tenant), "whatsapp-business")
    assert raw is not None
    thief = f"{tenant}-thief"
    await redis.hset(keys.integrations(thief), "whatsapp-business", raw)
    with pytest.raises(DecryptionFailed):
        await store.credentials(thief, "whatsapp-business")


async def test_without_a_key_summaries_work_but_secrets_do_not(
    store: IntegrationStore, redis: aioredis.Redis, tenant: str
) -> None:
    await store.set(tenant, "whatsapp-business", wa_creds())
    keyless = IntegrationStore(redis, None)
    assert [s.provider for s in await keyless.list(tenant)] == ["whatsapp-business"]
    with pytest.raises(MissingSecretKey):
        await keyless.credentials(tenant, "whatsapp-business")
    with pytest.raises(MissingSecretKey):
        await keyless.set(tenant, "wppconnect", wpp_creds())
    assert await keyless.remove(tenant, "whatsapp-business") is True


async def test_key_rotation(redis: aioredis.Redis, tenant: str) -> None:
    old, new = new_key(), new_key()
    await IntegrationStore(redis, Cipher(old)).set(tenant, "whatsapp-business", wa_creds())
    rotated = IntegrationStore(redis, Cipher(new, [old]))
    creds = await rotated.credentials(tenant, "whatsapp-business")
    assert isinstance(creds, WhatsAppBusinessCredentials)
    assert creds.access_token == SecretStr(SECRETS[0])
    with pytest.raises(DecryptionFailed):
        await IntegrationStore(redis, Cipher(new)).credentials(tenant, "whatsapp-business")
    summary = await rotated.set(tenant, "whatsapp-business", wa_creds())
    assert summary.key_id == Cipher(new).key_id
