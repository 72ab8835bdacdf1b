"""Key rotation of the stored integrations (``herald keys rotate``).

Split from :mod:`streams.tenancy.integrations`, which re-exports these names.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from dataclasses import field as _field

import orjson
from redis.asyncio import Redis

from schemas._base import is_tenant_id
from schemas.integration import SYSTEM_TENANT
from streams.tenancy import keys
from streams.tenancy.crypto import Cipher, CryptoError

__all__ = ["CAS_HSET", "Reencrypted", "reencrypt_integrations", "tenants_with_integrations"]

log = logging.getLogger("streams.tenancy.integrations")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


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
