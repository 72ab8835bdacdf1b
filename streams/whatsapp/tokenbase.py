"""What every token store shares: the keys, :class:`TokenStore`, the bare file store.

The stores themselves are described in ``tokens.py`` (which re-exports all of this);
``seal_profile`` and ``archive_aad`` are the one sealing routine of the encrypted stores
(``tokens.RedisTokenStore``, ``sealed.SealedFileTokenStore``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from schemas.status import utcnow
from streams.tenancy.crypto import Cipher
from streams.whatsapp.archive import ARCHIVE_FORMAT, MARKER, pack
from streams.whatsapp.lease import Lease
from streams.whatsapp.naming import tagged

__all__ = [
    "ArchiveInfo",
    "FileTokenStore",
    "TokenStore",
    "archive_aad",
    "legacy_token_key",
    "seal_profile",
    "session_name",
    "token_key",
    "tombstone_key",
]


def session_name(tenant_id: str) -> str:
    """The seed's session naming: ``tenant-{tenantId}``."""
    return f"tenant-{tenant_id}"


def token_key(tenant_id: str) -> str:
    """Hash-tagged by tenant (one cluster slot with the lease that fences its writes).

    ``tenant_id`` is a session id (``naming.py``): ``acme``, or ``acme@sales``.
    """
    return f"wppconnect:token:{tagged(tenant_id)}"


def legacy_token_key(tenant_id: str) -> str:
    """Where releases before the cluster layout kept the archive (adopted on restore)."""
    return f"wppconnect:token:{tenant_id}"


def tombstone_key(tenant_id: str) -> str:
    """Written at logout: the login is gone, so a local profile must not outlive it."""
    return f"wppconnect:tombstone:{tagged(tenant_id)}"  # same slot as token_key


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    """What was stored: the encrypted size (what Redis holds) and what it contains."""

    archive_id: str
    stored_bytes: int
    compressed_bytes: int
    raw_bytes: int
    files: int
    key_id: str


class TokenStore(Protocol):
    kind: str

    def path(self, tenant_id: str) -> Path: ...

    def profile_dir(self, tenant_id: str) -> Path: ...

    def exists(self, tenant_id: str) -> bool: ...

    async def restore(self, tenant_id: str) -> bool:
        """Make the local profile the stored one; ``True`` if a login may be in it."""
        ...

    async def save(self, tenant_id: str, lease: Lease | None) -> ArchiveInfo | None:
        """Store the local profile (fenced by ``lease``); ``None`` if nothing was stored."""
        ...

    async def forget_local(self, tenant_id: str) -> bool:
        """Remove the local (plaintext) profile if it is exactly what is stored, encrypted."""
        ...

    async def has_login(self, tenant_id: str) -> bool:
        """Whether a start of the session would find a stored login to restore."""
        ...

    async def delete(self, tenant_id: str) -> bool: ...


class FileTokenStore:
    """The bare local profiles, in the clear (tests; the worker's stores seal them)."""

    kind = "file"

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser().resolve()

    def path(self, tenant_id: str) -> Path:
        name = session_name(tenant_id)
        if "/" in name or name in (".", ".."):  # tenant ids are validated; stay defensive
            raise ValueError(f"unusable tenant id for a profile directory: {tenant_id!r}")
        return self.folder / name

    def profile_dir(self, tenant_id: str) -> Path:
        """The tenant's profile directory, created (mode 0700) if missing."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.path(tenant_id)
        path.mkdir(exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
        return path

    def exists(self, tenant_id: str) -> bool:
        return self.path(tenant_id).is_dir()

    def _marker(self, tenant_id: str) -> str | None:
        try:
            return (self.path(tenant_id) / MARKER).read_text().strip() or None
        except OSError:
            return None

    def _write_marker(self, tenant_id: str, archive_id: str) -> None:
        path = self.path(tenant_id)
        if path.is_dir():
            (path / MARKER).write_text(archive_id)

    async def restore(self, tenant_id: str) -> bool:
        return self.exists(tenant_id)

    async def save(self, tenant_id: str, lease: Lease | None) -> ArchiveInfo | None:
        return None

    async def forget_local(self, tenant_id: str) -> bool:
        return False  # nothing else holds the login

    async def _forget_if_archived(self, tenant_id: str, archive_id: str | None) -> bool:
        """Remove the local profile if it is exactly the archive ``archive_id``."""
        if archive_id is None or self._marker(tenant_id) != archive_id:
            return False
        await asyncio.to_thread(shutil.rmtree, self.path(tenant_id), True)
        return True

    async def has_login(self, tenant_id: str) -> bool:
        return self.exists(tenant_id)

    async def delete(self, tenant_id: str) -> bool:
        """Remove the tenant's profile (``deleteToken``); ``False`` if there was none."""
        path = self.path(tenant_id)
        if not path.exists():
            return False
        await asyncio.to_thread(shutil.rmtree, path, True)
        return True


def archive_aad(tenant_id: str) -> bytes:
    """The associated data binding an archive to its tenant (every encrypted store)."""
    return f"wppconnect-token:{tenant_id}".encode()


async def seal_profile(
    path: Path, cipher: Cipher, tenant_id: str, lease: Lease | None
) -> tuple[dict[str, str | int], ArchiveInfo]:
    """Pack and encrypt the profile at ``path``: the stored record's fields and its info.

    The archive's ``id`` names its content (the marker in a profile unpacked from it).
    """
    packed = await asyncio.to_thread(pack, path)
    token = cipher.encrypt(packed.data, archive_aad(tenant_id))
    info = ArchiveInfo(
        archive_id=hashlib.sha256(token.encode()).hexdigest()[:24],
        stored_bytes=len(token),
        compressed_bytes=len(packed.data),
        raw_bytes=packed.raw_bytes,
        files=packed.files,
        key_id=cipher.key_id,
    )
    fields: dict[str, str | int] = {
        "archive": token,
        "id": info.archive_id,
        "format": ARCHIVE_FORMAT,
        "keyId": cipher.key_id,
        "bytes": len(token),
        "compressedBytes": len(packed.data),
        "rawBytes": packed.raw_bytes,
        "files": packed.files,
        "savedAt": utcnow().isoformat(),
        "owner": lease.owner if lease else "",
    }
    return fields, info
