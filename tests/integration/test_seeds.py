"""The seed loader and the lookups service against a real Redis."""

from __future__ import annotations

import orjson
import pytest
import redis.asyncio as aioredis

from schemas.lookups import Lookup, ProviderSeed
from seeds import LOOKUP_TYPES, LOOKUPS, PROVIDERS, load_seeds
from streams.tenancy import keys
from streams.tenancy.lookups import LookupsNotLoaded, LookupsService

pytestmark = pytest.mark.integration

SEED_KEYS = (keys.lookup_types(), keys.lookups(), keys.provider_rows())


@pytest.fixture
async def empty(redis: aioredis.Redis) -> aioredis.Redis:
    """The session's Redis without seed data (also when REDIS_URL is an external server)."""
    await redis.delete(*SEED_KEYS)
    return redis


async def test_load_twice_changes_nothing(empty: aioredis.Redis) -> None:
    first = await load_seeds(empty)
    assert first.as_dict() == {
        "lookup_types": {"created": 5, "updated": 0, "unchanged": 0},
        "lookups": {"created": 10, "updated": 0, "unchanged": 0},
        "providers": {"created": 10, "updated": 0, "unchanged": 0},
    }
    assert first.changed
    snapshot = {key: await empty.hgetall(key) for key in SEED_KEYS}

    second = await load_seeds(empty)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 25)
    assert not second.changed
    assert {key: await empty.hgetall(key) for key in SEED_KEYS} == snapshot


async def test_hashes_hold_the_models_json(empty: aioredis.Redis) -> None:
    await load_seeds(empty)
    types = await empty.hgetall(keys.lookup_types())
    assert {k.decode(): v for k, v in types.items()} == {
        t.type_name: t.to_json() for t in LOOKUP_TYPES
    }
    lookups = await empty.hgetall(keys.lookups())
    assert {k.decode(): Lookup.model_validate_json(v) for k, v in lookups.items()} == {
        lk.lookup_code: lk for lk in LOOKUPS
    }
    rows = await empty.hgetall(keys.provider_rows())
    assert {k.decode(): ProviderSeed.model_validate_json(v) for k, v in rows.items()} == {
        p.name: p for p in PROVIDERS
    }
    wpp = orjson.loads(rows[b"wppconnect"])
    assert wpp["providerType"] == "wppconnect"
    assert wpp["configuration"]["folderNameToken"] == "./tokens/wppconnect"


async def test_changed_and_missing_values_are_restored(empty: aioredis.Redis) -> None:
    await load_seeds(empty)
    await empty.hset(keys.provider_rows(), "aws-ses", b'{"name": "aws-ses"}')
    await empty.hdel(keys.lookups(), "twilio")
    await empty.hset(keys.lookup_types(), "custom_type", b'{"typeName": "custom_type"}')
    report = await load_seeds(empty)
    assert report.as_dict()["providers"] == {"created": 0, "updated": 1, "unchanged": 9}
    assert report.as_dict()["lookups"] == {"created": 1, "updated": 0, "unchanged": 9}
    assert report.as_dict()["lookup_types"] == {"created": 0, "updated": 0, "unchanged": 5}
    row = await empty.hget(keys.provider_rows(), "aws-ses")
    assert row is not None
    assert ProviderSeed.model_validate_json(row).provider_type == "ses"
    # Values the seed does not define are left alone.
    assert await empty.hexists(keys.lookup_types(), "custom_type")


async def test_lookups_service_without_seed_data(empty: aioredis.Redis) -> None:
    service = LookupsService(empty)
    with pytest.raises(LookupsNotLoaded, match="load"):
        service.lookup("whatsapp-business")
    with pytest.raises(LookupsNotLoaded, match="herald seed"):
        await service.load()
    assert not service.loaded


async def test_lookups_service_reads_the_seed(empty: aioredis.Redis) -> None:
    await load_seeds(empty)
    service = LookupsService(empty)
    await service.load()
    assert service.loaded

    lookup = service.lookup("whatsapp-business")
    assert lookup is not None
    assert lookup.lookup_value == "WhatsApp Business API"
    assert lookup.metadata == {"channel": "whatsapp", "official": True}
    assert service.lookup("carrier-pigeon") is None
    assert len(service.lookups()) == 10
    assert [t.type_name for t in service.lookup_types()] == sorted(
        t.type_name for t in LOOKUP_TYPES
    )

    row = service.provider_row("ses")
    assert row is not None
    assert row.name == "aws-ses"
    assert service.provider_row("aws-ses") is None
    database = service.provider_row("database")
    assert database is not None
    assert database.name == "database-inbox"

    assert service.is_provider_for("wppconnect", "whatsapp")
    assert not service.is_provider_for("wppconnect", "sms")
    assert not service.is_provider_for("carrier-pigeon", "whatsapp")

    assert [r.name for r in service.system_defaults("whatsapp")] == [
        "whatsapp-business",
        "wppconnect",
    ]
    assert [r.name for r in service.system_defaults("email")] == ["sendgrid"]
    assert [r.name for r in service.system_defaults("fcm")] == ["firebase"]


async def test_refresh_sees_new_data(empty: aioredis.Redis) -> None:
    await load_seeds(empty)
    service = LookupsService(empty)
    await service.load()
    row = next(p for p in PROVIDERS if p.name == "wppconnect")
    changed = row.model_copy(update={"is_default": True, "priority": 0})
    await empty.hset(keys.provider_rows(), "wppconnect", changed.to_json())
    assert service.system_defaults("whatsapp")[0].name == "whatsapp-business"
    await service.refresh()
    assert [r.name for r in service.system_defaults("whatsapp")] == [
        "wppconnect",
        "whatsapp-business",
    ]
