"""Packages from the npm registry without npm: packument, tarball, integrity, extraction.

What ``npm pack`` does, in Python (httpx): the packument (``GET {registry}/{name}``,
abbreviated form) names the version's ``dist.tarball`` and its ``dist.integrity`` (a
Subresource Integrity string, ``sha512-<base64>``); the tarball is streamed to a file
while hashed, and refused unless the hash matches. Extraction keeps regular files only,
strips npm's ``package/`` prefix, and refuses any name that would land outside the
destination.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from providers._exceptions import HeraldError

__all__ = [
    "IntegrityMismatch",
    "RegistryError",
    "Release",
    "check_integrity",
    "download",
    "extract",
    "resolve",
]

#: The abbreviated packument: what an install needs (versions, dist), much smaller.
_ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"
_CHUNK = 1 << 16


class RegistryError(HeraldError):
    """The registry could not be reached, or has no such package or version."""


class IntegrityMismatch(HeraldError):
    """A downloaded tarball is not the one the registry's packument describes."""


@dataclass(frozen=True, slots=True)
class Release:
    name: str
    version: str
    tarball: str
    integrity: str


def _packument_url(registry: str, name: str) -> str:
    return f"{registry.rstrip('/')}/{name.replace('/', '%2f')}"


async def resolve(client: httpx.AsyncClient, registry: str, name: str, spec: str) -> Release:
    """The release of ``name`` at ``spec``: an exact version or a dist-tag (``latest``)."""
    url = _packument_url(registry, name)
    try:
        response = await client.get(url, headers={"Accept": _ACCEPT})
    except httpx.HTTPError as exc:
        raise RegistryError(f"the npm registry did not answer for {name}: {exc!r}") from exc
    if response.status_code == 404:
        raise RegistryError(f"{name} is not on the npm registry at {registry}")
    if response.status_code != 200:
        raise RegistryError(f"the npm registry answered {response.status_code} for {name}")
    try:
        packument: Any = response.json()
    except ValueError as exc:
        raise RegistryError(f"the npm registry's answer for {name} is not JSON") from exc
    versions = packument.get("versions") if isinstance(packument, dict) else None
    tags = packument.get("dist-tags") if isinstance(packument, dict) else None
    if not isinstance(versions, dict):
        raise RegistryError(f"the npm registry's packument of {name} has no versions")
    version = spec if spec in versions else (tags or {}).get(spec)
    entry = versions.get(version) if isinstance(version, str) else None
    if not isinstance(entry, dict):
        raise RegistryError(f"{name} has no version or dist-tag {spec!r}")
    dist = entry.get("dist") or {}
    tarball, integrity = dist.get("tarball"), dist.get("integrity")
    if not isinstance(tarball, str) or not isinstance(integrity, str):
        raise RegistryError(f"{name}@{version} has no tarball with an integrity (sha512)")
    return Release(name, str(version), tarball, integrity)


def check_integrity(integrity: str, digest: bytes) -> None:
    """``digest`` (a sha512) matches one ``sha512-`` entry of the SRI string ``integrity``."""
    expected = [
        part.split("-", 1)[1].split("?", 1)[0]
        for part in integrity.split()
        if part.startswith("sha512-")
    ]
    if not expected:
        raise IntegrityMismatch(f"no sha512 integrity to check against ({integrity[:40]!r})")
    actual = base64.b64encode(digest).decode()
    if not any(hmac.compare_digest(actual, want) for want in expected):
        raise IntegrityMismatch(
            f"sha512 is {actual[:16]}..., the registry says {expected[0][:16]}..."
        )


async def download(client: httpx.AsyncClient, release: Release, dest: Path) -> None:
    """Stream the tarball to ``dest`` (a scratch file: use it only if this returns);
    :class:`IntegrityMismatch` if it is not the tarball the registry described."""
    digest = hashlib.sha512()
    try:
        async with client.stream("GET", release.tarball) as response:
            if response.status_code != 200:
                raise RegistryError(
                    f"{release.name}@{release.version}: the tarball answered {response.status_code}"
                )
            with dest.open("wb") as out:
                async for chunk in response.aiter_bytes(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise RegistryError(f"downloading {release.name}@{release.version}: {exc!r}") from exc
    try:
        check_integrity(release.integrity, digest.digest())
    except IntegrityMismatch as exc:
        raise IntegrityMismatch(f"{release.name}@{release.version}: {exc}") from None


def _inside(name: str) -> PurePosixPath | None:
    """``package/dist/x.js`` -> ``dist/x.js``; ``None`` for anything unsafe or empty."""
    parts = PurePosixPath(name).parts
    if len(parts) < 2 or parts[0] in ("/", "..") or any(p in ("..", "") for p in parts):
        return None
    return PurePosixPath(*parts[1:])


def extract(tarball: Path, dest: Path, keep: Callable[[PurePosixPath], bool]) -> list[Path]:
    """The regular files of ``tarball`` that ``keep`` wants, under ``dest`` (prefix stripped)."""
    written: list[Path] = []
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            inner = _inside(member.name)
            if inner is None or not member.isfile() or not keep(inner):
                continue
            target = dest.joinpath(*inner.parts)
            source = archive.extractfile(member)
            if source is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with source, target.open("wb") as out:
                while chunk := source.read(_CHUNK):
                    out.write(chunk)
            written.append(target)
    return written
