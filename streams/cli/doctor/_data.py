"""Doctor checks of Herald's data: the secret key against the stored integrations, the
seed data against the provider registry, the inbox database's migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from providers.database import create_inbox_engine
from providers.registry import NOT_IMPLEMENTED, get_provider_class
from schemas._base import WireModel
from schemas.settings import Settings
from seeds.data import LOOKUP_TYPES, LOOKUPS, PROVIDERS
from streams.cli.doctor._model import Check, Outcome
from streams.cli.errors import redact_url
from streams.inbox import auto_migrate_enabled, current_revision, head_revision
from streams.tenancy import keys
from streams.tenancy.crypto import Cipher, CryptoError, MissingSecretKey
from streams.tenancy.integrations import IntegrationError, IntegrationStore

__all__ = ["check_inbox", "check_secret_key", "check_seed", "stored_integrations"]

_DB_TIMEOUT = 15.0


async def stored_integrations(redis: Redis) -> list[tuple[str, str, str]]:
    """``(tenant, provider, key id)`` of every stored integration, sorted."""
    prefix, _, suffix = keys.integrations("\0").partition("\0")
    found: list[tuple[str, str, str]] = []
    async for raw_key in redis.scan_iter(match=f"{prefix}*{suffix}", count=500):
        key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        tenant = key[len(prefix) : len(key) - len(suffix)]
        if keys.integrations(tenant) != key:
            continue
        for provider, record in (await redis.hgetall(key)).items():
            data = orjson.loads(record)
            name = provider.decode() if isinstance(provider, bytes) else str(provider)
            found.append((tenant, name, str(data.get("keyId", "?"))))
    return sorted(found)


async def check_secret_key(settings: Settings, redis: Redis | None) -> Check:
    try:
        cipher = Cipher.from_settings(settings)
    except MissingSecretKey as exc:
        return Check(
            "secret key",
            Outcome.FAIL,
            str(exc).split(":")[0],
            "run `herald keygen` and set HERALD_SECRET_KEY (the same on every worker)",
        )
    except CryptoError as exc:
        return Check("secret key", Outcome.FAIL, str(exc), "use a key made by `herald keygen`")
    if redis is None:
        return Check("secret key", Outcome.SKIP, "set; stored integrations not checked (no Redis)")
    store = IntegrationStore(redis, cipher)
    integrations = await stored_integrations(redis)
    unreadable: list[str] = []
    for tenant, provider, key_id in integrations:
        try:
            await store.credentials(tenant, provider)
        except (CryptoError, IntegrationError) as exc:
            reason = "another key" if isinstance(exc, CryptoError) else "invalid after decryption"
            unreadable.append(f"{tenant}/{provider} (key {key_id}: {reason})")
    details: dict[str, Any] = {"keyIds": cipher.key_ids, "integrations": len(integrations)}
    if unreadable:
        return Check(
            "secret key",
            Outcome.FAIL,
            f"cannot decrypt {len(unreadable)} of {len(integrations)} stored integrations: "
            + ", ".join(unreadable),
            "put the key they were stored with in HERALD_PREVIOUS_SECRET_KEYS, or store them "
            "again with `herald integrations set`",
            {**details, "unreadable": unreadable},
        )
    return Check(
        "secret key",
        Outcome.OK,
        f"set (key id {cipher.key_ids[0]}); decrypts all {len(integrations)} stored integrations",
        details=details,
    )


def _differences(stored: dict[Any, Any], wanted: list[tuple[str, WireModel]]) -> list[str]:
    have = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in stored.items()}
    out = []
    for name, model in wanted:
        if name not in have:
            out.append(f"{name} missing")
        elif orjson.loads(have[name]) != orjson.loads(model.to_json()):
            out.append(f"{name} differs")
    return out


async def check_seed(redis: Redis | None) -> Check:
    if redis is None:
        return Check("seed data", Outcome.SKIP, "not checked (no Redis)")
    lookups_raw = await redis.hgetall(keys.lookups())
    if not lookups_raw:
        return Check("seed data", Outcome.FAIL, "no provider lookups in Redis", "run `herald seed`")
    plan: list[tuple[str, list[tuple[str, WireModel]]]] = [
        (keys.lookup_types(), [(t.type_name, t) for t in LOOKUP_TYPES]),
        (keys.lookups(), [(lk.lookup_code, lk) for lk in LOOKUPS]),
        (keys.provider_rows(), [(p.name, p) for p in PROVIDERS]),
    ]
    stale: list[str] = []
    for key, wanted in plan:
        stale.extend(_differences(await redis.hgetall(key), wanted))
    codes = sorted(k.decode() if isinstance(k, bytes) else str(k) for k in lookups_raw)
    unknown = [c for c in codes if get_provider_class(c) is None and c not in NOT_IMPLEMENTED]
    details = {"lookups": codes, "stale": stale, "unknownToRegistry": unknown}
    if unknown:
        return Check(
            "seed data",
            Outcome.FAIL,
            "lookups without a provider in this Herald: " + ", ".join(unknown),
            "remove them, or deploy the Herald version that has these providers",
            details,
        )
    if stale:
        return Check(
            "seed data",
            Outcome.FAIL,
            f"{len(stale)} seed entries not as this Herald ships them: "
            + ", ".join(stale[:5])
            + (" ..." if len(stale) > 5 else ""),
            "run `herald seed` (idempotent)",
            details,
        )
    return Check(
        "seed data",
        Outcome.OK,
        f"loaded; {len(codes)} providers, all known to the registry",
        details=details,
    )


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return None if parsed.database == ":memory:" else Path(parsed.database)


async def check_inbox(settings: Settings) -> Check:
    url = redact_url(settings.database_url)
    auto = auto_migrate_enabled(settings)
    head = head_revision()
    path = _sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        # Connecting would create the file: say what a worker will do instead.
        outcome = Outcome.WARN if auto else Outcome.FAIL
        return Check(
            "inbox database",
            outcome,
            f"{url}: no database file yet"
            + (" (a worker creates and migrates it at start)" if auto else ""),
            "run `herald db upgrade` with the workers' DATABASE_URL and working directory",
        )
    engine = create_inbox_engine(settings.database_url)
    try:
        async with asyncio.timeout(_DB_TIMEOUT):
            revision = await current_revision(engine)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        return Check(
            "inbox database",
            Outcome.FAIL,
            f"{url}: {type(exc).__name__}: {first}",
            "check DATABASE_URL and that the database is running",
        )
    finally:
        await engine.dispose()
    details = {"revision": revision, "head": head, "autoMigrate": auto}
    if revision == head:
        return Check(
            "inbox database", Outcome.OK, f"{url} at revision {head} (newest)", None, details
        )
    state = "not migrated" if revision is None else f"at revision {revision}, newest is {head}"
    return Check(
        "inbox database",
        Outcome.WARN if auto else Outcome.FAIL,
        f"{url} {state}" + (" (a worker migrates it at start)" if auto else ""),
        "run `herald db upgrade`",
        details,
    )
