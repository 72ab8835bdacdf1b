"""A session's browser profile as a small archive: tar, minus what Chromium re-creates, zstd.

WhatsApp Web keeps its pairing in the profile (IndexedDB with a non-extractable
CryptoKey, localStorage, cookies), so the profile directory is the token. Most of a
profile is caches and browser bookkeeping that Chromium rebuilds by itself; those are
left out (:data:`EXCLUDED_DIRS`, :data:`EXCLUDED_FILES`), everything else is kept
(IndexedDB, Local Storage, Session Storage, Cookies, Preferences, Local State,
WebStorage, Service Worker registrations, ...).

:func:`pack` reads each file whole into memory before adding it, so a profile in use by
a running Chromium can be archived: a file that changes meanwhile is taken as it was
when read (SQLite and LevelDB recover from such copies; a test restores one), a file
that disappears is skipped. :func:`unpack` extracts with tarfile's ``data`` filter (no
absolute paths, links out of the tree or device files).
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import zstandard

__all__ = [
    "ARCHIVE_FORMAT",
    "EXCLUDED_DIRS",
    "EXCLUDED_FILES",
    "MARKER",
    "STAGING_PREFIX",
    "Packed",
    "pack",
    "unpack",
]

ARCHIVE_FORMAT = "tar+zstd"
_LEVEL = 10

#: Directory names (at any depth) whose contents Chromium re-creates.
EXCLUDED_DIRS = frozenset(
    {
        "Cache",
        "Code Cache",
        "GPUCache",
        "GPUPersistentCache",
        "DawnCache",
        "DawnGraphiteCache",
        "DawnWebGPUCache",
        "GraphiteDawnCache",
        "GrShaderCache",
        "ShaderCache",
        "CacheStorage",  # Service Worker/CacheStorage
        "ScriptCache",  # Service Worker/ScriptCache
        "component_crx_cache",
        "extensions_crx_cache",
        "Crashpad",
        "Crash Reports",
        "BrowserMetrics",
        "Safe Browsing",
        "segmentation_platform",
        "Segmentation Platform",
        "OptimizationGuideModelsManifest",
        "optimization_guide_hint_cache_store",
        "optimization_guide_model_store",
        "Shared Dictionary",
        "Sessions",
        "Sessions_Encrypted",
        "blob_storage",
        "Download Service",
        "GCM Store",
        "Feature Engagement Tracker",
        "shared_proto_db",
        "Sync Data",
        "NativeMessagingHosts",
    }
)

#: File names (at any depth) of browser bookkeeping that no login depends on.
EXCLUDED_FILES = frozenset(
    {
        "History",
        "History-journal",
        "Favicons",
        "Favicons-journal",
        "Top Sites",
        "Top Sites-journal",
        "Visited Links",
        "Shortcuts",
        "Shortcuts-journal",
        "Network Action Predictor",
        "Network Action Predictor-journal",
        "Web Data",
        "Web Data-journal",
        "Account Web Data",
        "Account Web Data-journal",
        "Login Data",
        "Login Data-journal",
        "Login Data For Account",
        "Login Data For Account-journal",
        "Affiliation Database",
        "Affiliation Database-journal",
        "Reporting and NEL",
        "Reporting and NEL-journal",
        "Trust Tokens",
        "Trust Tokens-journal",
        "DIPS",
        "DIPS-journal",
        "Variations",
        "BrowsingTopicsState",
        "BrowsingTopicsSiteData",
        "declarative_performance_observer.db",
        "declarative_performance_observer.db-journal",
        "LOG",
        "LOG.old",
        "LOCK",
        "lockfile",
        "SingletonLock",
        "SingletonSocket",
        "SingletonCookie",
        "RunningChromeVersion",
    }
)

#: Restores unpack into ``<token folder>/.restore-XXXXXXXX`` (mkdtemp), then rename.
STAGING_PREFIX = ".restore-"

#: A file Herald keeps in the local profile: the id of the archive it matches (not packed).
MARKER = ".herald-token"


@dataclass(frozen=True, slots=True)
class Packed:
    data: bytes  # the compressed archive
    raw_bytes: int  # the tar before compression
    files: int


def _wanted(root: Path) -> list[Path]:
    found: list[Path] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS)
        base = Path(current)
        for name in sorted(files):
            if name in EXCLUDED_FILES or name == MARKER:
                continue
            path = base / name
            if path.is_symlink():
                continue
            found.append(path)
    return found


def pack(profile: Path) -> Packed:
    """The profile's kept files as a zstd-compressed tar (blocking: run in a thread)."""
    buffer = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _wanted(profile):
            try:
                data = path.read_bytes()
                mtime = path.stat().st_mtime
            except (FileNotFoundError, NotADirectoryError):
                continue  # gone while we walked (a running browser)
            info = tarfile.TarInfo(str(path.relative_to(profile)))
            info.size = len(data)
            info.mode = 0o600
            info.mtime = int(mtime)
            tar.addfile(info, io.BytesIO(data))
            count += 1
    raw = buffer.getvalue()
    compressed = zstandard.ZstdCompressor(level=_LEVEL).compress(raw)
    return Packed(compressed, len(raw), count)


def _safe(member: tarfile.TarInfo) -> bool:
    """Plain files and folders inside the tree (the ``data`` filter checks this again)."""
    name = Path(member.name)
    return (member.isfile() or member.isdir()) and not name.is_absolute() and ".." not in name.parts


def unpack(data: bytes, profile: Path, *, max_bytes: int = 1 << 30) -> int:
    """Replace ``profile`` with the archive's files; the number of files (blocking)."""
    raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=max_bytes)
    # Stage in a fresh private directory (mkdtemp: mode 0700, unpredictable name) beside the
    # profile, so the final rename stays on one file system. A fixed name such as
    # ``tenant-X.restoring`` would be the profile of the valid tenant ``X.restoring``;
    # a leading dot can never start a ``tenant-...`` profile name.
    profile.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=profile.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            members = [m for m in tar.getmembers() if _safe(m)]
            tar.extractall(staging, members=members, filter="data")
        shutil.rmtree(profile, ignore_errors=True)
        staging.rename(profile)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.chmod(profile, 0o700)
    return sum(1 for m in members if m.isfile())
