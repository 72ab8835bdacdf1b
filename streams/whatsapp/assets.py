"""Where a session's wa-js bundle and pinned WhatsApp Web build come from.

``herald whatsapp install`` (:func:`install`) fetches both from the npm registry
(:mod:`streams.whatsapp.npm`, integrity checked) into a cache laid out as::

    <root>/wa-js/<version>/package.json, dist/wppconnect-wa.js, dist/**/*.d.ts
    <root>/whatsapp-web/<build>.html          (only with WHATSAPP_WEB_VERSION)

The worker finds them by itself (:func:`find_wajs`, :func:`find_web_build`): the bundle
at ``WHATSAPP_WPPCONNECT_WAJS_PATH`` if set, else in this checkout's ``vendor/`` (same
layout: scripts/bootstrap.sh runs ``herald whatsapp install --cache-dir vendor``), else
in the cache (``WHATSAPP_CACHE_DIR``, default the
user cache, ``$XDG_CACHE_HOME/herald`` or ``~/.cache/herald``). Anything missing is an
:class:`AssetMissing` naming the command that fixes it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx
import orjson

from providers._exceptions import HeraldError
from providers.wppconnect._contract import WAJS_PACKAGE
from schemas.settings import Settings
from streams.whatsapp import npm

__all__ = [
    "INSTALL_HINT",
    "WA_VERSION_PACKAGE",
    "AssetMissing",
    "Installed",
    "cache_root",
    "find_wajs",
    "find_web_build",
    "install",
    "user_cache_dir",
    "vendor_root",
]

#: The npm package of archived WhatsApp Web pages (WPPConnect's ``whatsappVersion``).
WA_VERSION_PACKAGE = "@wppconnect/wa-version"
INSTALL_HINT = "run `herald whatsapp install`"
_BUNDLE = PurePosixPath("dist/wppconnect-wa.js")
_TIMEOUT = httpx.Timeout(30.0, read=120.0)


class AssetMissing(HeraldError):
    """The wa-js bundle or the pinned WhatsApp Web build is not where the worker looks."""


@dataclass(frozen=True, slots=True)
class Installed:
    what: str  # "wa-js" or "whatsapp-web"
    version: str
    path: Path
    fetched: bool  # False: it was in place already


def user_cache_dir() -> Path:
    """The user's cache directory for Herald (XDG on Linux, the platforms' own elsewhere)."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "herald"
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "herald" / "Cache"
    base = os.environ.get("XDG_CACHE_HOME") or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "herald"


def cache_root(settings: Settings) -> Path:
    return (
        Path(settings.whatsapp_cache_dir).expanduser()
        if settings.whatsapp_cache_dir
        else (user_cache_dir())
    )


def vendor_root() -> Path:
    """``vendor/`` of the checkout this code runs from (absent in an installed wheel)."""
    return Path(__file__).resolve().parents[2] / "vendor"


def _wajs_in(root: Path, version: str) -> Path | None:
    bundle = root / "wa-js" / version / _BUNDLE
    return bundle if bundle.is_file() and _package_version(bundle) == version else None


def _package_version(bundle: Path) -> str | None:
    try:
        data = orjson.loads((bundle.parent.parent / "package.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if isinstance(data, dict) and data.get("name") == WAJS_PACKAGE:
        return str(data.get("version") or "") or None
    return None


def find_wajs(settings: Settings) -> Path:
    """The wa-js bundle: the explicit setting, else ``vendor/``, else the cache."""
    if settings.wppconnect_wajs_path:
        path = Path(settings.wppconnect_wajs_path).expanduser()
        if not path.is_file():
            raise AssetMissing(
                f"the wa-js bundle is missing at {path} (WHATSAPP_WPPCONNECT_WAJS_PATH)"
            )
        return path
    version = settings.wppconnect_wajs_version
    legacy = vendor_root() / "wa-js" / _BUNDLE  # scripts/bootstrap.sh before the cache
    for found in (
        _wajs_in(vendor_root(), version),
        legacy if legacy.is_file() and _package_version(legacy) == version else None,
        _wajs_in(cache_root(settings), version),
    ):
        if found is not None:
            return found
    raise AssetMissing(
        f"the wa-js bundle {WAJS_PACKAGE}@{version} is missing (looked in {vendor_root()} and "
        f"{cache_root(settings)}): {INSTALL_HINT}, or set WHATSAPP_WPPCONNECT_WAJS_PATH"
    )


def web_build_path(settings: Settings, version: str) -> Path:
    return cache_root(settings) / "whatsapp-web" / f"{version}.html"


def find_web_build(settings: Settings) -> str | None:
    """The pinned WhatsApp Web page (``WHATSAPP_WEB_VERSION``); ``None`` when not pinned."""
    version = settings.whatsapp_web_version
    if not version:
        return None
    path = web_build_path(settings, version)
    for candidate in (vendor_root() / "whatsapp-web" / f"{version}.html", path):
        try:
            return candidate.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise AssetMissing(
                f"WhatsApp Web {version} cannot be read at {candidate}: {exc}"
            ) from exc
    raise AssetMissing(
        f"WhatsApp Web {version} (WHATSAPP_WEB_VERSION) is not installed at {path}: {INSTALL_HINT}"
    )


async def install(
    settings: Settings, *, client: httpx.AsyncClient | None = None, force: bool = False
) -> list[Installed]:
    """Fetch what is missing (wa-js, the pinned build); what was done, one entry each.

    Idempotent: what is in place already is not fetched again (unless ``force``).
    Raises :class:`npm.RegistryError`, :class:`npm.IntegrityMismatch`, ``OSError``.
    """
    root = cache_root(settings)
    own = client is None
    http = client or httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=True)
    try:
        done = [await _install_wajs(settings, http, root, force)]
        if settings.whatsapp_web_version:
            done.append(await _install_build(settings, http, force))
    finally:
        if own:
            await http.aclose()
    return done


async def _install_wajs(
    settings: Settings, client: httpx.AsyncClient, root: Path, force: bool
) -> Installed:
    version = settings.wppconnect_wajs_version
    present = _wajs_in(root, version)
    if present is not None and not force:
        return Installed("wa-js", version, present, fetched=False)
    registry = settings.whatsapp_npm_registry
    release = await npm.resolve(client, registry, WAJS_PACKAGE, version)
    target = root / "wa-js" / version
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".install-") as tmp:
        tarball = Path(tmp) / "package.tgz"
        await npm.download(client, release, tarball)
        staged = Path(tmp) / "package"
        npm.extract(tarball, staged, lambda name: True)
        if not (staged / _BUNDLE).is_file():
            raise npm.RegistryError(f"{WAJS_PACKAGE}@{version} has no {_BUNDLE}")
        shutil.rmtree(target, ignore_errors=True)
        staged.rename(target)
    return Installed("wa-js", version, target / _BUNDLE, fetched=True)


async def _install_build(settings: Settings, client: httpx.AsyncClient, force: bool) -> Installed:
    version = str(settings.whatsapp_web_version)
    path = web_build_path(settings, version)
    if path.is_file() and not force:
        return Installed("whatsapp-web", version, path, fetched=False)
    spec = settings.whatsapp_web_version_package
    release = await npm.resolve(client, settings.whatsapp_npm_registry, WA_VERSION_PACKAGE, spec)
    wanted = PurePosixPath("html") / f"{version}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".install-") as tmp:
        tarball = Path(tmp) / "package.tgz"
        await npm.download(client, release, tarball)
        found = npm.extract(tarball, Path(tmp) / "package", lambda name: name == wanted)
        if not found:
            raise npm.RegistryError(
                f"WhatsApp Web {version} is not in {WA_VERSION_PACKAGE}@{release.version} "
                "(builds expire from the package; pick one of its html/*.html, or set "
                "WHATSAPP_WEB_VERSION_PACKAGE to an older package version that has it)"
            )
        found[0].replace(path)
    return Installed("whatsapp-web", version, path, fetched=True)
