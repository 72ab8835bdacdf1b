"""Token stores: where a session's login (its browser profile) lives between runs.

WhatsApp Web keeps its pairing in IndexedDB and localStorage, including a
non-extractable CryptoKey that no storage-state snapshot can carry (Playwright's turns
it into an empty object), so the whole profile directory is the token: WPPConnect's
``userDataDir`` per session.

* ``file`` (:class:`FileTokenStore`): the profile under ``WHATSAPP_WPPCONNECT_TOKEN_FOLDER``
  as ``tenant-{tenantId}`` (mode 0700) is all there is; another machine needs a new QR.
* ``redis`` (:class:`RedisTokenStore`): the same local profile, plus an archive of it in
  Redis (``archive.py``: tar minus caches, zstd, then AES-GCM under ``HERALD_SECRET_KEY``
  with the tenant as associated data) -- stored after login, every
  ``WHATSAPP_WPPCONNECT_SNAPSHOT_INTERVAL`` and at every close, and restored by whichever
  worker opens the session next. Like whatsapp-web.js's RemoteAuth.

``deleteToken`` (a logout) removes both, and the redis store leaves a **tombstone**
(``wppconnect:tombstone:{tenantId}``): a worker that finds no archive clears its local
profile only when a tombstone says the login was ended on purpose. Without an archive
and without a tombstone (a worker died before its first archive landed, or Redis lost
it) the local profile is kept: it may hold the only copy of the login.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from schemas.status import utcnow
from streams.tenancy.crypto import Cipher, CryptoError
from streams.tenancy.integrations import CAS_HSET, Reencrypted
from streams.whatsapp.archive import unpack
from streams.whatsapp.lease import Lease, lease_key
from streams.whatsapp.naming import untagged
from streams.whatsapp.tokenbase import (
    ArchiveInfo,
    FileTokenStore,
    TokenStore,
    archive_aad,
    legacy_token_key,
    seal_profile,
    session_name,
    token_key,
    tombstone_key,
)

__all__ = [
    "ArchiveInfo",
    "FileTokenStore",
    "RedisTokenStore",
    "TokenStore",
    "archive_aad",
    "legacy_token_key",
    "reencrypt_archives",
    "seal_profile",
    "session_name",
    "token_key",
    "tombstone_key",
]

log = logging.getLogger(__name__)


# KEYS: token hash, lease, tombstone. ARGV: owner, token (or '' unfenced), field/value pairs.
_SAVE = """
if ARGV[2] ~= '' then
  if redis.call('HGET', KEYS[2], 'owner') ~= ARGV[1]
     or redis.call('HGET', KEYS[2], 'token') ~= ARGV[2] then
    return 0
  end
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return 1
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisTokenStore(FileTokenStore):
    """The local profile, archived in Redis at ``wppconnect:token:{tenantId}``.

    The hash holds ``archive`` (``v1.<key id>.<base64url(nonce|ciphertext)>``: the key id
    lets ``HERALD_PREVIOUS_SECRET_KEYS`` decrypt archives made before a key rotation; the
    next snapshot re-encrypts with the current key), ``id`` (a digest of ``archive``),
    ``format``, ``keyId``, ``bytes`` (stored), ``compressedBytes``, ``rawBytes``,
    ``files``, ``savedAt``, ``owner`` and ``fence`` (the lease token of the writer).
    """

    kind = "redis"

    def __init__(self, folder: str | Path, redis: Redis, cipher: Cipher) -> None:
        super().__init__(folder)
        self._redis = redis
        self._cipher = cipher
        self._save = redis.register_script(_SAVE)

    async def info(self, tenant_id: str) -> dict[str, str] | None:
        raw = await self._redis.hgetall(token_key(tenant_id))
        if not raw:
            return None
        return {_text(k): _text(v) for k, v in raw.items() if _text(k) != "archive"}

    async def restore(self, tenant_id: str) -> bool:
        """Unpack the stored archive into the local profile (skipped if it is that one).

        Without an archive, the local profile is cleared only if a tombstone says the
        session was logged out (a profile left from before the logout); otherwise it is
        kept as it is: it may be the only copy of a login whose first archive never landed.
        """
        stored_id = await self._redis.hget(token_key(tenant_id), "id")
        if stored_id is None and await self._adopt_legacy(tenant_id):
            stored_id = await self._redis.hget(token_key(tenant_id), "id")
        if stored_id is None:
            if await self._redis.exists(tombstone_key(tenant_id)):
                if self.exists(tenant_id):
                    await asyncio.to_thread(shutil.rmtree, self.path(tenant_id), True)
                return False
            if self.exists(tenant_id):
                log.warning(
                    "no archived token: keeping the local profile",
                    extra={"tenant_id": tenant_id},
                )
                return True
            return False
        archive_id = _text(stored_id)
        if self._marker(tenant_id) == archive_id:
            return True
        token = await self._redis.hget(token_key(tenant_id), "archive")
        if token is None:  # deleted meanwhile
            return await self.restore(tenant_id)
        data = self._cipher.decrypt(_text(token), archive_aad(tenant_id))
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        files = await asyncio.to_thread(unpack, data, self.path(tenant_id))
        self._write_marker(tenant_id, archive_id)
        log.info(
            "session token restored",
            extra={"tenant_id": tenant_id, "files": files, "bytes": len(token)},
        )
        return True

    async def _adopt_legacy(self, tenant_id: str) -> bool:
        """Move an archive from its pre-cluster key (``legacy_token_key``) to ``token_key``.

        Single-key commands only (the two keys may be in different slots); the restoring
        worker holds the session's lease, so nobody else writes the archive meanwhile.
        """
        legacy = legacy_token_key(tenant_id)
        raw = await self._redis.hgetall(legacy)
        if not raw:
            return False
        fields: dict[Any, Any] = dict(raw)
        await self._redis.hset(token_key(tenant_id), mapping=fields)
        await self._redis.delete(legacy)
        log.info("session token moved to its cluster key", extra={"tenant_id": tenant_id})
        return True

    async def save(self, tenant_id: str, lease: Lease | None) -> ArchiveInfo | None:
        """Archive the local profile into Redis, if ``lease`` is still the current one."""
        path = self.path(tenant_id)
        if not path.is_dir():
            return None
        fields, info = await seal_profile(path, self._cipher, tenant_id, lease)
        fields["fence"] = lease.token if lease else ""
        args: list[str | int] = [lease.owner if lease else "", lease.token if lease else ""]
        for name, value in fields.items():
            args.extend((name, value))
        stored = await self._save(
            keys=[token_key(tenant_id), lease_key(tenant_id), tombstone_key(tenant_id)],
            args=args,
        )
        if not int(stored):
            log.warning(
                "session token not stored: the lease is no longer ours",
                extra={"tenant_id": tenant_id},
            )
            return None
        self._write_marker(tenant_id, info.archive_id)
        return info

    async def has_login(self, tenant_id: str) -> bool:
        if await self._redis.exists(token_key(tenant_id)):  # one key per command: slots
            return True
        return bool(await self._redis.exists(legacy_token_key(tenant_id)))

    async def forget_local(self, tenant_id: str) -> bool:
        """Remove the local profile if it is exactly the stored archive (after a close)."""
        stored_id = await self._redis.hget(token_key(tenant_id), "id")
        return await self._forget_if_archived(
            tenant_id, None if stored_id is None else _text(stored_id)
        )

    async def delete(self, tenant_id: str) -> bool:
        """Remove the archive and the local profile, and leave a tombstone (see ``restore``)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(token_key(tenant_id))
            pipe.set(tombstone_key(tenant_id), utcnow().isoformat())
            removed, _ = await pipe.execute()
        removed = bool(await self._redis.delete(legacy_token_key(tenant_id))) or bool(removed)
        return await super().delete(tenant_id) or removed


async def reencrypt_archives(redis: Redis, cipher: Cipher, *, dry_run: bool = False) -> Reencrypted:
    """Re-encrypt every stored session archive under ``cipher``'s primary key.

    Only ``archive``, ``keyId`` and ``bytes`` change: ``id`` names the archive's content
    (workers compare it with the marker in their local profile), which is the same. An
    archive replaced meanwhile (a snapshot) is left alone and reported as ``changed``.
    """
    report = Reencrypted()
    cas = redis.register_script(CAS_HSET)
    prefix = token_key("").removesuffix("{}")  # "wppconnect:token:"
    async for raw_key in redis.scan_iter(match=prefix + "{*", count=500):
        key = _text(raw_key)
        # A session id: the tenant, or tenant@sessionName for its further sessions.
        tenant_id = untagged(key[len(prefix) :]) if key.startswith(prefix) else None
        if tenant_id is None or token_key(tenant_id) != key:
            continue
        if _text(await redis.type(key)) != "hash":
            continue
        token = await redis.hget(key, "archive")
        if token is None:
            continue
        try:
            if Cipher.token_key_id(_text(token)) == cipher.key_id:
                cipher.decrypt(_text(token), archive_aad(tenant_id))
                report.current.append(tenant_id)
                continue
            fresh = cipher.encrypt(
                cipher.decrypt(_text(token), archive_aad(tenant_id)), archive_aad(tenant_id)
            )
        except CryptoError as exc:
            report.failed[tenant_id] = str(exc)
            continue
        if dry_run:
            report.rotated.append(tenant_id)
            continue
        extra: list[str | int] = ["keyId", cipher.key_id, "bytes", len(fresh)]
        if int(await cas(keys=[key], args=["archive", token, fresh, *extra])):
            report.rotated.append(tenant_id)
        else:
            report.changed.append(tenant_id)
    return report
