"""The ``file`` token store keeps logins encrypted at rest (``streams.whatsapp.sealed``).

Attacks tried: reading the stored archive for the login's bytes; restoring it with another
key; moving one tenant's archive to another tenant. Plus the upgrade of a plaintext profile
left by an older release, and a profile newer than its archive (a worker killed mid-run).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from streams.tenancy.crypto import Cipher, DecryptionFailed
from streams.whatsapp import SessionOptions
from streams.whatsapp.sealed import SealedFileTokenStore, reencrypt_sealed
from tests.unit.whatsapp.fakes import FakeWorld, closing_sessions, files_of, write_files

#: Distinctive login bytes, as WhatsApp Web keeps them (localStorage, IndexedDB).
SECRET = b"last-wid-md:5511988887777:secret-noise-key-" + os.urandom(16).hex().encode()


def write_profile(root: Path) -> dict[str, bytes]:
    files = {
        "Local State": b'{"profile": {}}',
        "Default/Preferences": b'{"intl": "en"}',
        "Default/Local Storage/leveldb/000003.log": SECRET * 30,
        "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/000003.log": SECRET,
    }
    write_files(root, files)
    return files


async def archived_acme(tmp_path: Path) -> tuple[SealedFileTokenStore, dict[str, bytes]]:
    """A sealed store under ``tmp_path`` (a new key) holding acme's profile, archived;
    the store and the profile's files."""
    store = SealedFileTokenStore(tmp_path / "tokens", new_cipher())
    kept = write_profile(store.profile_dir("acme"))
    await store.save("acme", None)
    return store, kept


def everything_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def new_cipher() -> Cipher:
    return Cipher(os.urandom(32))


async def test_at_rest_the_login_is_only_encrypted_and_comes_back_whole(tmp_path: Path) -> None:
    store = SealedFileTokenStore(tmp_path / "tokens", new_cipher())
    kept = write_profile(store.profile_dir("acme"))
    info = await store.save("acme", None)
    assert info is not None
    assert await store.forget_local("acme")  # the closing archive is stored: drop the clear copy
    assert not store.exists("acme")
    sealed = store.sealed_path("acme")
    assert sealed.stat().st_mode & 0o777 == 0o600
    assert sealed.parent.stat().st_mode & 0o777 == 0o700
    # Nothing in the token folder holds the login's bytes, raw or base64-encoded.
    stored = everything_under(tmp_path / "tokens")
    assert SECRET not in stored
    assert base64.b64encode(SECRET)[:40] not in stored
    assert b"Local Storage" not in stored  # not even the file names
    assert await store.restore("acme")
    assert files_of(store.path("acme")) == kept
    assert store.path("acme").stat().st_mode & 0o777 == 0o700


async def test_another_key_cannot_restore_and_the_archive_is_left_for_the_right_one(
    tmp_path: Path,
) -> None:
    right = os.urandom(32)
    store = SealedFileTokenStore(tmp_path / "tokens", Cipher(right))
    kept = write_profile(store.profile_dir("acme"))
    await store.save("acme", None)
    await store.forget_local("acme")
    before = store.sealed_path("acme").read_bytes()
    wrong = SealedFileTokenStore(tmp_path / "tokens", new_cipher())
    with pytest.raises(DecryptionFailed, match="neither HERALD_SECRET_KEY"):
        await wrong.restore("acme")
    assert not wrong.exists("acme")  # no profile, no half-restored login
    assert store.sealed_path("acme").read_bytes() == before  # untouched
    # After a key rotation, the old key as a previous key restores it.
    rotated = SealedFileTokenStore(tmp_path / "tokens", Cipher(os.urandom(32), [right]))
    assert await rotated.restore("acme")
    assert files_of(rotated.path("acme")) == kept


async def test_an_archive_moved_to_another_tenant_does_not_decrypt(tmp_path: Path) -> None:
    store, _ = await archived_acme(tmp_path)
    target = store.sealed_path("globex")
    target.write_bytes(store.sealed_path("acme").read_bytes())
    with pytest.raises(DecryptionFailed, match="another tenant"):
        await store.restore("globex")


async def test_a_plaintext_profile_from_an_older_release_is_sealed_by_its_next_run(
    tmp_path: Path,
) -> None:
    store = SealedFileTokenStore(tmp_path / "tokens", new_cipher())
    kept = write_profile(store.profile_dir("acme"))  # as releases before sealing left it
    assert store.info("acme") is None
    assert await store.restore("acme")  # used as it is: the session starts logged in
    assert files_of(store.path("acme")) == kept
    await store.save("acme", None)  # its first archive (after login, or at close) seals it
    assert await store.forget_local("acme")
    assert SECRET not in everything_under(tmp_path / "tokens")
    assert await store.restore("acme")
    assert files_of(store.path("acme")) == kept


async def test_a_profile_newer_than_its_archive_is_kept(tmp_path: Path) -> None:
    """A worker killed after a snapshot: its running profile holds newer state."""
    store, _ = await archived_acme(tmp_path)
    (store.path("acme") / "Default/Preferences").write_bytes(b"newer")
    assert await store.restore("acme")
    assert (store.path("acme") / "Default/Preferences").read_bytes() == b"newer"
    # ... and a profile that is not exactly the archive is never dropped by forget_local.
    other = SealedFileTokenStore(tmp_path / "tokens", new_cipher())
    (store.path("acme") / ".herald-token").write_text("another-archive")
    assert not await other.forget_local("acme")
    assert store.exists("acme")


async def test_delete_removes_the_archive_and_the_profile(tmp_path: Path) -> None:
    store, _ = await archived_acme(tmp_path)
    assert await store.delete("acme")
    assert not store.exists("acme")
    assert not store.sealed_path("acme").exists()
    assert not await store.restore("acme")
    assert not await store.delete("acme")


async def test_a_closed_session_leaves_only_its_sealed_archive(tmp_path: Path) -> None:
    store = SealedFileTokenStore(tmp_path / "tokens", new_cipher())
    async with closing_sessions(FakeWorld(tmp_path, store)) as world:
        world.pair("acme")  # logged in, as left by a release before sealing
        session = await world.manager.ensure("acme", SessionOptions())
        await session.wait_ready()
        await world.manager.close("acme")
        await world.manager.drain_background()
        assert not store.exists("acme")  # the plaintext profile is gone ...
        assert store.info("acme") is not None  # ... the sealed archive holds the login
        session = await world.manager.ensure("acme", SessionOptions())
        await session.wait_ready()  # restored: logged in again, no QR
        assert world.events.qrs == []


async def test_rotation_reports_an_archive_no_key_opens_and_leaves_it(tmp_path: Path) -> None:
    lost, _ = await archived_acme(tmp_path)
    before = lost.sealed_path("acme").read_bytes()
    report = reencrypt_sealed(tmp_path / "tokens", new_cipher())
    assert list(report.failed) == ["acme"]
    assert report.rotated == []
    assert lost.sealed_path("acme").read_bytes() == before
