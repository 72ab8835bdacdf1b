"""The ``file`` token store: a session's login kept on local disk, encrypted at rest.

The seed promises "session tokens encrypted". A browser profile cannot be: Chromium reads
it in the clear. So the profile directory (``tenant-{tenantId}``, mode 0700) exists only
while the session may run, and the login at rest is a **sealed archive**
``.sealed/tenant-{tenantId}`` in the same folder: the profile as ``archive.py`` packs it
(tar minus caches, zstd), AES-256-GCM encrypted under ``HERALD_SECRET_KEY`` with the tenant
as associated data (``streams.tenancy.crypto``, the same token format and key rotation as
the integrations and the ``redis`` store), written atomically with mode 0600.

* It is written when the Redis store archives (after login, periodically, at close); after
  the closing archive the plaintext profile is removed (:meth:`forget_local`).
* :meth:`restore` unpacks it into the profile, unless the profile already holds exactly
  that archive (the marker file ``.herald-token``, as in the Redis store): the profile
  left by a worker killed mid-session is then newer, and kept.
* An archive made under another key is not restored: :class:`~streams.tenancy.crypto.
  DecryptionFailed` (the session manager fails the start as retryable
  ``token_unreadable``), the archive is left untouched for the right key.
* Upgrade: a plaintext profile with no sealed archive (from a release before sealing) is
  used as it is, sealed at the session's first archive and removed at its close.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from streams.tenancy.crypto import Cipher, CryptoError
from streams.tenancy.integrations import Reencrypted
from streams.whatsapp.archive import unpack
from streams.whatsapp.lease import Lease
from streams.whatsapp.tokens import (
    ArchiveInfo,
    FileTokenStore,
    archive_aad,
    seal_profile,
    session_name,
)

__all__ = ["SEALED_DIR", "SealedFileTokenStore", "archive_aad", "reencrypt_sealed"]

#: The sealed archives' folder inside the token folder (a leading dot never starts a
#: ``tenant-...`` profile name, so no tenant's profile can be this folder).
SEALED_DIR = ".sealed"


class SealedFileTokenStore(FileTokenStore):
    kind = "file"

    def __init__(self, folder: str | Path, cipher: Cipher) -> None:
        super().__init__(folder)
        self._cipher = cipher

    def sealed_path(self, tenant_id: str) -> Path:
        self.path(tenant_id)  # validates the name
        return self.folder / SEALED_DIR / session_name(tenant_id)

    def _read(self, tenant_id: str) -> dict[str, Any] | None:
        try:
            data = orjson.loads(self.sealed_path(tenant_id).read_bytes())
        except FileNotFoundError:
            return None
        return data if isinstance(data, dict) else None

    def info(self, tenant_id: str) -> dict[str, Any] | None:
        """What is sealed for ``tenant_id`` (sizes, key id, when), without the archive."""
        data = self._read(tenant_id)
        return None if data is None else {k: v for k, v in data.items() if k != "archive"}

    async def restore(self, tenant_id: str) -> bool:
        stored = await asyncio.to_thread(self._read, tenant_id)
        if stored is None:
            # Nothing sealed: a profile from before sealing, or the only copy of a login
            # whose first archive never landed. Kept; sealed at its next archive.
            return self.exists(tenant_id)
        archive_id = str(stored.get("id"))
        if self._marker(tenant_id) == archive_id:
            return True
        data = self._cipher.decrypt(str(stored.get("archive")), archive_aad(tenant_id))
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        await asyncio.to_thread(unpack, data, self.path(tenant_id))
        self._write_marker(tenant_id, archive_id)
        return True

    async def save(self, tenant_id: str, lease: Lease | None) -> ArchiveInfo | None:
        path = self.path(tenant_id)
        if not path.is_dir():
            return None
        record, info = await seal_profile(path, self._cipher, tenant_id, lease)
        await asyncio.to_thread(self._write, tenant_id, orjson.dumps(record))
        self._write_marker(tenant_id, info.archive_id)
        return info

    def _write(self, tenant_id: str, body: bytes) -> None:
        """Atomically: a private temporary file beside it, then a rename."""
        target = self.sealed_path(tenant_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(name, target)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    async def has_login(self, tenant_id: str) -> bool:
        return self.exists(tenant_id) or self.sealed_path(tenant_id).is_file()

    async def forget_local(self, tenant_id: str) -> bool:
        """Remove the plaintext profile if it is exactly what is sealed (after a close)."""
        stored = await asyncio.to_thread(self._read, tenant_id)
        return await self._forget_if_archived(
            tenant_id, None if stored is None else str(stored.get("id"))
        )

    async def delete(self, tenant_id: str) -> bool:
        sealed = self.sealed_path(tenant_id)
        removed = sealed.exists()
        sealed.unlink(missing_ok=True)
        return await super().delete(tenant_id) or removed


def reencrypt_sealed(folder: str | Path, cipher: Cipher, *, dry_run: bool = False) -> Reencrypted:
    """Re-encrypt every sealed archive in ``folder`` under ``cipher``'s primary key.

    For ``herald keys rotate`` on the machine that holds the folder (blocking: small files).
    Like the Redis archives, ``id`` is kept (it names the content); an archive a worker
    replaced meanwhile is left alone and reported as ``changed``.
    """
    report = Reencrypted()
    store = SealedFileTokenStore(folder, cipher)
    sealed = store.folder / SEALED_DIR
    prefix = session_name("")
    for path in sorted(sealed.glob(prefix + "*")) if sealed.is_dir() else []:
        tenant_id = path.name[len(prefix) :]
        try:
            record = store._read(tenant_id)
            if record is None:
                continue
            token = str(record.get("archive"))
            data = cipher.decrypt(token, archive_aad(tenant_id))
        except (CryptoError, orjson.JSONDecodeError, ValueError) as exc:
            report.failed[tenant_id] = str(exc)
            continue
        if Cipher.token_key_id(token) == cipher.key_id:
            report.current.append(tenant_id)
            continue
        if dry_run:
            report.rotated.append(tenant_id)
            continue
        fresh = cipher.encrypt(data, archive_aad(tenant_id))
        again = store._read(tenant_id)
        if again is None or again.get("id") != record.get("id"):
            report.changed.append(tenant_id)
            continue
        record.update({"archive": fresh, "keyId": cipher.key_id, "bytes": len(fresh)})
        store._write(tenant_id, orjson.dumps(record))
        report.rotated.append(tenant_id)
    return report
