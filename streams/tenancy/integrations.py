"""Per-tenant provider integrations, credentials encrypted at rest.

One Redis hash per tenant (``streams.tenancy.keys.integrations``), field = the integration's
name (the provider lookup code; ``provider@instance`` for a provider's second and later
instances, e.g. a tenant's further WhatsApp Web sessions), value = a JSON record: the :class:`IntegrationSummary` fields plus ``credentials`` (a
:class:`streams.tenancy.crypto.Cipher` token bound to ``"<tenant>:<name>"``) and
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
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from schemas.credentials import BaseCredentials, credentials_adapter
from schemas.errors import (
    IntegrationError,
    InvalidIntegrationCredentials,
    InvalidTenantId,
    UnknownProvider,
)
from schemas.integration import INSTANCE_SEPARATOR, IntegrationSummary
from schemas.notification import Channel
from schemas.status import utcnow
from streams.tenancy import keys
from streams.tenancy.crypto import Cipher, MissingSecretKey
from streams.tenancy.rotation import (
    CAS_HSET,
    Reencrypted,
    reencrypt_integrations,
    tenants_with_integrations,
)
from streams.tenancy.validation import (
    channel_of,
    credential_models,
    field_errors,
    index_keys,
    instance_of,
    integration_name,
    provider_of,
    reveal,
    validate_credentials,
)
from streams.tenancy.validation import check_tenant as _check_tenant

__all__ = [
    "CAS_HSET",
    "CHANGES_CHANNEL",
    "REMOVED_CHANNEL",
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
#: Redis pub/sub channel: ``{"tenantId", "provider", "integration"}`` after an integration was removed, so
#: that what the provider keeps for the tenant goes too (WhatsApp Web sessions:
#: :mod:`streams.whatsapp.removal`).
REMOVED_CHANNEL = "herald:integrations:removed"
_MAX_WATCH_RETRIES = 32
_R = TypeVar("_R")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _order(summary: IntegrationSummary) -> tuple[bool, int, bool, str]:
    """Default first, then priority, then a provider's first instance, then by name."""
    name = summary.name or summary.provider
    return (not summary.is_default, summary.priority, INSTANCE_SEPARATOR in name, name)


def _summary(name: str, record: Mapping[str, Any]) -> IntegrationSummary:
    return IntegrationSummary.model_validate({**record, "name": name})


class IntegrationStore:
    def __init__(self, redis: Redis, cipher: Cipher | None) -> None:
        self._redis = redis
        self._cipher = cipher

    def _require_cipher(self) -> Cipher:
        if self._cipher is None:
            raise MissingSecretKey()
        return self._cipher

    def _stored_instance(self, tenant_id: str, name: str, record: Mapping[str, Any]) -> str | None:
        """The instance name of a stored record (records from before names: decrypted)."""
        if record.get("sessionName"):
            return str(record["sessionName"])
        if INSTANCE_SEPARATOR in name:
            return name.split(INSTANCE_SEPARATOR, 1)[1]
        try:
            plain = self._require_cipher().decrypt(
                str(record["credentials"]), f"{tenant_id}:{name}".encode()
            )
            return instance_of(credentials_adapter().validate_json(plain))
        except Exception:  # unreadable: treat it as another instance, never overwrite it
            return None

    def _name_for(
        self,
        tenant_id: str,
        provider: str,
        instance: str | None,
        existing: Mapping[str, Mapping[str, Any]],
    ) -> str:
        """Where an instance is stored: its existing record, else the provider's first slot
        if free (the single-instance keys), else ``provider@instance``."""
        named = integration_name(provider, instance)
        if instance is None or named in existing:
            return named
        first = existing.get(provider)
        if first is None or self._stored_instance(tenant_id, provider, first) == instance:
            return provider
        return named

    async def _transact(
        self, tenant_id: str, change: Callable[[Pipeline, dict[str, Any]], Awaitable[_R]]
    ) -> _R:
        """``change`` as an optimistic transaction on the tenant's integrations hash.

        ``change`` gets the pipeline, WATCHing the hash, and the records it holds; it
        queues its writes after ``pipe.multi()`` and executes them (or unwatches and
        returns). Run again when the hash changed meanwhile, up to ``_MAX_WATCH_RETRIES``.
        """
        key = keys.integrations(tenant_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(_MAX_WATCH_RETRIES):
                try:
                    await pipe.watch(key)
                    existing = {
                        _text(k): orjson.loads(v) for k, v in (await pipe.hgetall(key)).items()
                    }
                    return await change(pipe, existing)
                except WatchError:
                    continue
        raise IntegrationError(f"too much concurrent change to {tenant_id}'s integrations")

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
        """Validate, encrypt and store; a new default clears the channel's previous default.

        A provider that allows several instances per tenant (wppconnect: one per
        ``sessionName``) stores a new instance beside the others; the same instance
        name replaces that instance.
        """
        _check_tenant(tenant_id)
        creds = validate_credentials(provider, credentials)
        cipher = self._require_cipher()
        channel = channel_of(provider)
        instance = instance_of(creds)
        clear = reveal(creds)
        new_index = index_keys(provider, creds)
        key = keys.integrations(tenant_id)
        for index_key in new_index:
            await self._redis.sadd(index_key, tenant_id)
        stale: builtins.set[str] = builtins.set()

        async def store(pipe: Pipeline, existing: dict[str, Any]) -> tuple[str, IntegrationSummary]:
            nonlocal stale
            name = self._name_for(tenant_id, provider, instance, existing)
            summary = IntegrationSummary(
                tenant_id=tenant_id,
                provider=provider,
                name=name,
                session_name=instance,
                channel=channel,
                is_default=is_default,
                priority=priority,
                is_active=is_active,
                key_id=cipher.key_id,
                credential_fields=sorted(clear.keys() - {"providerType"}),
                updated_at=utcnow(),
            )
            token = cipher.encrypt(orjson.dumps(clear), f"{tenant_id}:{name}".encode())
            record = {
                **summary.model_dump(mode="json", by_alias=True, exclude={"name"}),
                "credentials": token,
                "indexKeys": new_index,
            }
            stale = set(existing.get(name, {}).get("indexKeys", [])) - set(new_index)
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(key, name, orjson.dumps(record))
            if is_default:
                for other, rec in existing.items():
                    if other != name and rec.get("channel") == channel and rec.get("isDefault"):
                        pipe.hset(key, other, orjson.dumps({**rec, "isDefault": False}))
            await pipe.execute()
            return name, summary

        name, summary = await self._transact(tenant_id, store)
        clear.clear()  # the secrets in clear: dropped once stored (the closure holds the dict)
        await self._drop_index_entries(tenant_id, stale)
        await self._redis.publish(CHANGES_CHANNEL, tenant_id)
        log.info(
            "integration stored",
            extra={
                "tenant_id": tenant_id,
                "provider": provider,
                "integration": name,
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

    async def _record(self, tenant_id: str, name: str) -> dict[str, Any] | None:
        _check_tenant(tenant_id)
        raw = await self._redis.hget(keys.integrations(tenant_id), name)
        if raw is None:
            return None
        record: dict[str, Any] = orjson.loads(raw)
        return record

    async def get(self, tenant_id: str, provider: str) -> IntegrationSummary | None:
        """The integration named ``provider`` (``wppconnect``, or ``wppconnect@sales``)."""
        record = await self._record(tenant_id, provider)
        return None if record is None else _summary(provider, record)

    async def list(self, tenant_id: str) -> builtins.list[IntegrationSummary]:
        """Every integration of the tenant, by channel, default first, then priority."""
        _check_tenant(tenant_id)
        raw = await self._redis.hgetall(keys.integrations(tenant_id))
        summaries = [_summary(_text(k), orjson.loads(v)) for k, v in raw.items()]
        return sorted(summaries, key=lambda s: (str(s.channel), *_order(s)))

    async def instances(self, tenant_id: str, provider: str) -> builtins.list[IntegrationSummary]:
        """Every integration of ``provider`` (active or not), in the order of preference."""
        found = [s for s in await self.list(tenant_id) if s.provider == provider]
        return sorted(found, key=_order)

    async def for_channel(
        self, tenant_id: str, channel: Channel | str
    ) -> builtins.list[IntegrationSummary]:
        """Active integrations of ``channel``: the default first, then by priority."""
        found = [s for s in await self.list(tenant_id) if s.is_active and s.channel == str(channel)]
        return sorted(found, key=_order)

    async def remove(self, tenant_id: str, provider: str, instance: str | None = None) -> bool:
        """Remove the tenant's ``provider`` integration (``instance``: the one so named).

        Without ``instance`` a provider with several instances is ambiguous:
        :class:`IntegrationError` names them.
        """
        _check_tenant(tenant_id)
        key = keys.integrations(tenant_id)

        async def drop(pipe: Pipeline, existing: dict[str, Any]) -> tuple[str, Any] | None:
            mine = {n: r for n, r in existing.items() if provider_of(n) == provider}
            if instance is not None:
                mine = {
                    n: r
                    for n, r in mine.items()
                    if self._stored_instance(tenant_id, n, r) == instance
                }
            elif len(mine) > 1:
                await pipe.unwatch()  # type: ignore[no-untyped-call]
                names = sorted(str(self._stored_instance(tenant_id, n, r)) for n, r in mine.items())
                raise IntegrationError(
                    f"{tenant_id} has {len(mine)} {provider} integrations "
                    f"({', '.join(names)}): name the session to remove"
                )
            if not mine:
                await pipe.unwatch()  # type: ignore[no-untyped-call]
                return None
            found = next(iter(mine.items()))
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hdel(key, found[0])
            await pipe.execute()
            return found

        dropped = await self._transact(tenant_id, drop)
        if dropped is None:
            return False
        name, record = dropped
        await self._drop_index_entries(tenant_id, builtins.set(record.get("indexKeys", [])))
        await self._redis.publish(CHANGES_CHANNEL, tenant_id)
        removed = {"tenantId": tenant_id, "provider": provider, "integration": name}
        await self._redis.publish(REMOVED_CHANNEL, orjson.dumps(removed))
        log.info(
            "integration removed",
            extra={"tenant_id": tenant_id, "provider": provider, "integration": name},
        )
        return True

    async def credentials(self, tenant_id: str, provider: str) -> BaseCredentials | None:
        """The decrypted, validated credentials of the integration named ``provider``
        (``wppconnect@sales`` names a further instance), or ``None`` when there is none."""
        record = await self._record(tenant_id, provider)
        if record is None:
            return None
        cipher = self._require_cipher()
        plaintext = cipher.decrypt(record["credentials"], f"{tenant_id}:{provider}".encode())
        try:
            return credentials_adapter().validate_json(plaintext)
        except ValidationError as exc:
            code = provider_of(provider)
            raise InvalidIntegrationCredentials(code, field_errors(code, exc)) from None

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
