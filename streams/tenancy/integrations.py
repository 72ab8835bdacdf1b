"""Per-tenant provider integrations, credentials encrypted at rest.

One Redis hash per tenant (``streams.tenancy.keys.integrations``), field = provider lookup code,
value = a JSON record: the :class:`IntegrationSummary` fields plus ``credentials`` (a
:class:`streams.tenancy.crypto.Cipher` token bound to ``"<tenant>:<provider>"``) and
``indexKeys`` (the index sets the record is in, so that they can be cleaned up without
decrypting). Integrations of :data:`SYSTEM_TENANT` are the system-wide defaults.

The tenant's hash is changed in a WATCH/MULTI transaction on its one key (one cluster
slot). The index sets (webhook -> candidate tenants, each then verified with its own
credentials) live in other slots: a record's new index entries are added before the
transaction and its stale ones (named by no current record) removed after it, so the
index is a superset of what the records say: a stale entry costs one failed verification.
(Two changes of one integration racing each other can still drop an entry; setting the
integration again restores it.)

Nothing here logs or returns secret values: summaries carry credential field names only.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

import orjson
from pydantic import BaseModel, SecretStr, ValidationError
from redis.asyncio import Redis
from redis.exceptions import WatchError

from providers.registry import get_provider_class
from schemas._base import TENANT_ID_PATTERN, is_tenant_id
from schemas.credentials import BaseCredentials, credentials_adapter
from schemas.credentials import credential_models as registered_models
from schemas.errors import (
    IntegrationError,
    InvalidIntegrationCredentials,
    InvalidTenantId,
    UnknownProvider,
)
from schemas.integration import SYSTEM_TENANT, IntegrationSummary
from schemas.notification import Channel
from schemas.status import utcnow
from seeds import data as seed_data
from streams.tenancy import keys
from streams.tenancy.crypto import Cipher, CryptoError, MissingSecretKey

__all__ = [
    "CAS_HSET",
    "CHANGES_CHANNEL",
    "IntegrationError",
    "IntegrationStore",
    "InvalidIntegrationCredentials",
    "InvalidTenantId",
    "Reencrypted",
    "UnknownProvider",
    "credential_models",
    "reencrypt_integrations",
    "tenants_with_integrations",
    "validate_credentials",
]

log = logging.getLogger(__name__)

#: Redis pub/sub channel: the tenant id is published after its integrations changed, so
#: that workers' caches (:mod:`streams.tenancy.cache`) forget them at once.
CHANGES_CHANNEL = "herald:integrations:changed"
_MAX_WATCH_RETRIES = 32


def credential_models() -> dict[str, type[BaseCredentials]]:
    """Provider lookup code -> credentials model, from the registered providers' models."""
    return {model.model_fields["provider_type"].default: model for model in registered_models()}


def _channel_of(provider: str) -> Channel:
    for lookup in seed_data.LOOKUPS:
        if lookup.lookup_code == provider:
            return lookup.channel
    raise UnknownProvider(provider, sorted(credential_models()))


def validate_credentials(provider: str, credentials: Mapping[str, Any]) -> BaseCredentials:
    """Validate ``credentials`` for ``provider``; errors name fields by wire name, not values."""
    known = sorted(credential_models())
    if provider not in known:
        raise UnknownProvider(provider, known)
    data = dict(credentials)
    for name in ("providerType", "provider_type"):
        given = data.pop(name, provider)
        if given != provider:
            raise InvalidIntegrationCredentials(
                provider, {"providerType": f"is {given!r} but the provider is {provider!r}"}
            )
    data["providerType"] = provider
    try:
        return credentials_adapter().validate_python(data)
    except ValidationError as exc:
        # ``from None``: the pydantic error's text includes the input values (secrets).
        raise InvalidIntegrationCredentials(provider, _field_errors(provider, exc)) from None


def _field_errors(provider: str, exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        parts = [str(p) for p in err["loc"]]
        if parts and parts[0] == provider:
            parts = parts[1:]
        name = ".".join(parts) or "credentials"
        errors[name] = "missing" if err["type"] == "missing" else err["msg"]
    return errors


def _reveal(creds: BaseModel) -> dict[str, Any]:
    """The credentials as wire JSON with the secret values in clear (for encryption only),
    nested models included (a wppconnect ``proxy`` has a password)."""
    data: dict[str, Any] = creds.model_dump(mode="json", by_alias=True, exclude_none=True)
    for name, field in type(creds).model_fields.items():
        value = getattr(creds, name)
        if isinstance(value, SecretStr):
            data[field.alias or name] = value.get_secret_value()
        elif isinstance(value, BaseModel):
            data[field.alias or name] = _reveal(value)
    return data


def _index_keys(provider: str, creds: BaseCredentials) -> builtins.list[str]:
    cls = get_provider_class(provider)
    if cls is None:
        return []
    found: builtins.list[str] = []
    for field in cls.index_fields:
        value = getattr(creds, field, None)
        if value is None:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        found.append(keys.integration_index(provider, field, text))
    return found


def _check_tenant(tenant_id: str) -> None:
    if tenant_id != SYSTEM_TENANT and not is_tenant_id(tenant_id):
        raise InvalidTenantId(
            f"invalid tenant id {tenant_id!r}: must match {TENANT_ID_PATTERN} "
            f"(or be {SYSTEM_TENANT!r} for the system defaults)"
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _order(summary: IntegrationSummary) -> tuple[bool, int, str]:
    return (not summary.is_default, summary.priority, summary.provider)


class IntegrationStore:
    def __init__(self, redis: Redis, cipher: Cipher | None) -> None:
        self._redis = redis
        self._cipher = cipher

    def _require_cipher(self) -> Cipher:
        if self._cipher is None:
            raise MissingSecretKey()
        return self._cipher

    async def set(
        self,
        tenant_id: str,
        provider: str,
        credentials: Mapping[str, Any],
        *,
        is_default: bool = False,
        priority: int = 100,
        is_active: bool = True,
    ) -> IntegrationSummary:
        """Validate, encrypt and store; a new default clears the channel's previous default."""
        _check_tenant(tenant_id)
        creds = validate_credentials(provider, credentials)
        cipher = self._require_cipher()
        channel = _channel_of(provider)
        clear = _reveal(creds)
        summary = IntegrationSummary(
            tenant_id=tenant_id,
            provider=provider,
            channel=channel,
            is_default=is_default,
            priority=priority,
            is_active=is_active,
            key_id=cipher.key_id,
            credential_fields=sorted(clear.keys() - {"providerType"}),
            updated_at=utcnow(),
        )
        token = cipher.encrypt(orjson.dumps(clear), f"{tenant_id}:{provider}".encode())
        del clear
        index_keys = _index_keys(provider, creds)
        record = {
            **summary.model_dump(mode="json", by_alias=True),
            "credentials": token,
            "indexKeys": index_keys,
        }
        key = keys.integrations(tenant_id)
        for index_key in index_keys:
            await self._redis.sadd(index_key, tenant_id)
        stale: builtins.set[str] = builtins.set()
        async with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(_MAX_WATCH_RETRIES):
                try:
                    await pipe.watch(key)
                    existing = {
                        _text(k): orjson.loads(v) for k, v in (await pipe.hgetall(key)).items()
                    }
                    stale = set(existing.get(provider, {}).get("indexKeys", [])) - set(index_keys)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(key, provider, orjson.dumps(record))
                    if is_default:
                        for other, rec in existing.items():
                            if (
                                other != provider
                                and rec.get("channel") == channel
                                and rec.get("isDefault")
                            ):
                                pipe.hset(key, other, orjson.dumps({**rec, "isDefault": False}))
                    await pipe.execute()
                    break
                except WatchError:
                    continue
            else:
                raise IntegrationError(f"too much concurrent change to {tenant_id}'s integrations")
        await self._drop_index_entries(tenant_id, stale)
        await self._redis.publish(CHANGES_CHANNEL, tenant_id)
        log.info(
            "integration stored",
            extra={
                "tenant_id": tenant_id,
                "provider": provider,
                "channel": str(channel),
                "key_id": cipher.key_id,
                "is_default": is_default,
            },
        )
        return summary

    async def _drop_index_entries(self, tenant_id: str, index_keys: builtins.set[str]) -> None:
        """Remove ``tenant_id`` from index sets none of its current records names."""
        if not index_keys:
            return
        current: builtins.set[str] = builtins.set()
        for raw in (await self._redis.hgetall(keys.integrations(tenant_id))).values():
            current.update(orjson.loads(raw).get("indexKeys", []))
        for index_key in index_keys - current:
            await self._redis.srem(index_key, tenant_id)

    async def _record(self, tenant_id: str, provider: str) -> dict[str, Any] | None:
        _check_tenant(tenant_id)
        raw = await self._redis.hget(keys.integrations(tenant_id), provider)
        if raw is None:
            return None
        record: dict[str, Any] = orjson.loads(raw)
        return record

    async def get(self, tenant_id: str, provider: str) -> IntegrationSummary | None:
        record = await self._record(tenant_id, provider)
        return None if record is None else IntegrationSummary.model_validate(record)

    async def list(self, tenant_id: str) -> builtins.list[IntegrationSummary]:
        """Every integration of the tenant, by channel, default first, then priority."""
        _check_tenant(tenant_id)
        raw = await self._redis.hgetall(keys.integrations(tenant_id))
        summaries = [IntegrationSummary.model_validate_json(v) for v in raw.values()]
        return sorted(summaries, key=lambda s: (str(s.channel), *_order(s)))

    async def for_channel(
        self, tenant_id: str, channel: Channel | str
    ) -> builtins.list[IntegrationSummary]:
        """Active integrations of ``channel``: the default first, then by priority."""
        found = [s for s in await self.list(tenant_id) if s.is_active and s.channel == str(channel)]
        return sorted(found, key=_order)

    async def remove(self, tenant_id: str, provider: str) -> bool:
        _check_tenant(tenant_id)
        key = keys.integrations(tenant_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(_MAX_WATCH_RETRIES):
                try:
                    await pipe.watch(key)
                    raw = await pipe.hget(key, provider)
                    if raw is None:
                        await pipe.unwatch()  # type: ignore[no-untyped-call]
                        return False
                    record = orjson.loads(raw)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hdel(key, provider)
                    await pipe.execute()
                    break
                except WatchError:
                    continue
            else:
                raise IntegrationError(f"too much concurrent change to {tenant_id}'s integrations")
        await self._drop_index_entries(tenant_id, builtins.set(record.get("indexKeys", [])))
        await self._redis.publish(CHANGES_CHANNEL, tenant_id)
        log.info("integration removed", extra={"tenant_id": tenant_id, "provider": provider})
        return True

    async def credentials(self, tenant_id: str, provider: str) -> BaseCredentials | None:
        """The decrypted, validated credentials, or ``None`` when there is no integration."""
        record = await self._record(tenant_id, provider)
        if record is None:
            return None
        cipher = self._require_cipher()
        plaintext = cipher.decrypt(record["credentials"], f"{tenant_id}:{provider}".encode())
        try:
            return credentials_adapter().validate_json(plaintext)
        except ValidationError as exc:
            raise InvalidIntegrationCredentials(provider, _field_errors(provider, exc)) from None

    async def tenants_by_indexes(
        self, provider: str, field: str, values: builtins.list[str]
    ) -> dict[str, builtins.list[str]]:
        """:meth:`tenants_by_index` for several values, in one pipelined round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for value in values:
                pipe.smembers(keys.integration_index(provider, field, value))
            found = await pipe.execute()
        return {v: sorted(_text(m) for m in ms) for v, ms in zip(values, found, strict=True)}

    async def tenants_by_index(self, provider: str, field: str, value: str) -> builtins.list[str]:
        """Tenants whose ``provider`` credentials have ``field`` (python name) == ``value``."""
        members = await self._redis.smembers(keys.integration_index(provider, field, value))
        return sorted(_text(m) for m in members)


# -- key rotation (``herald keys rotate``) ---------------------------------------------------

#: KEYS: a hash. ARGV: field, expected value, new value, then more field/value pairs to set.
#: Replaces the field only if nobody changed it since it was read (a concurrent ``set`` or
#: snapshot wins; rotate again).
CAS_HSET = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3], unpack(ARGV, 4))
return 1
"""


@dataclass
class Reencrypted:
    """What a rotation pass did: items are ``"<tenant>:<provider>"`` (or a tenant)."""

    rotated: builtins.list[str] = _field(default_factory=builtins.list)
    current: builtins.list[str] = _field(default_factory=builtins.list)
    changed: builtins.list[str] = _field(default_factory=builtins.list)  # raced: run again
    failed: dict[str, str] = _field(default_factory=dict)  # item -> why (never a secret)

    def merge(self, other: Reencrypted) -> None:
        self.rotated += other.rotated
        self.current += other.current
        self.changed += other.changed
        self.failed.update(other.failed)


def _tenant_of_integrations_key(key: str) -> str | None:
    prefix = keys.integrations("")[:-2]  # "herald:integrations:"
    if not (key.startswith(prefix + "{") and key.endswith("}")):
        return None
    tenant = key[len(prefix) + 1 : -1]
    return tenant if tenant == SYSTEM_TENANT or is_tenant_id(tenant) else None


async def tenants_with_integrations(redis: Redis, *, limit: int = 10) -> builtins.list[str]:
    """Up to ``limit`` tenants that have stored integrations (a scan of every node)."""
    found: builtins.list[str] = []
    async for raw_key in redis.scan_iter(match=keys.integrations("*"), count=500):
        tenant_id = _tenant_of_integrations_key(_text(raw_key))
        if tenant_id is not None and await redis.hlen(_text(raw_key)):
            found.append(tenant_id)
            if len(found) >= limit:
                break
    return found


async def reencrypt_integrations(
    redis: Redis, cipher: Cipher, *, dry_run: bool = False
) -> Reencrypted:
    """Re-encrypt every stored credential under ``cipher``'s primary key.

    Each record is decrypted with whichever known key made it (``HERALD_SECRET_KEY`` or
    one of ``HERALD_PREVIOUS_SECRET_KEYS``) and written back, with ``keyId``, only if it is
    still the record that was read. A record no known key opens is reported, never dropped.
    """
    report = Reencrypted()
    cas = redis.register_script(CAS_HSET)
    async for raw_key in redis.scan_iter(match=keys.integrations("*"), count=500):
        key = _text(raw_key)
        tenant_id = _tenant_of_integrations_key(key)
        if tenant_id is None or _text(await redis.type(key)) != "hash":
            continue
        for raw_provider, raw_record in (await redis.hgetall(key)).items():
            provider = _text(raw_provider)
            item = f"{tenant_id}:{provider}"
            try:
                record = orjson.loads(raw_record)
                token = str(record["credentials"])
                aad = item.encode()
                if Cipher.token_key_id(token) == cipher.key_id:
                    cipher.decrypt(token, aad)  # readable under the current key: nothing to do
                    report.current.append(item)
                    continue
                fresh = cipher.encrypt(cipher.decrypt(token, aad), aad)
            except (CryptoError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
                report.failed[item] = str(exc) if isinstance(exc, CryptoError) else "bad record"
                continue
            if dry_run:
                report.rotated.append(item)
                continue
            updated = orjson.dumps({**record, "credentials": fresh, "keyId": cipher.key_id})
            if int(await cas(keys=[key], args=[provider, raw_record, updated])):
                report.rotated.append(item)
            else:
                report.changed.append(item)
    log.info(
        "integrations re-encrypted",
        extra={
            "key_id": cipher.key_id,
            "rotated": len(report.rotated),
            "failed": len(report.failed),
            "dry_run": dry_run,
        },
    )
    return report
