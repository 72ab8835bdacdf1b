"""Session ownership and the redis token store, against a real redis-server and real files.

Leases and fencing (``lease.py``), the encrypted profile archive (``tokens.py``,
``archive.py``) with key rotation, and the hand-over between two session managers (two
"workers") over fake pages whose pairing lives in the profile directory, so that it only
survives a move if the archive carries it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from providers import RetryableError
from providers.wppconnect import WppCall
from streams.tenancy.crypto import Cipher, DecryptionFailed
from streams.whatsapp import SessionManager, SessionOptions, WhatsAppSession
from streams.whatsapp.lease import Lease, LeaseManager, LeaseUnavailable, lease_key
from streams.whatsapp.tokens import RedisTokenStore, legacy_token_key, token_key, tombstone_key
from tests.helpers import make_settings
from tests.unit.whatsapp.fakes import FakeWhatsApp, Recorder, files_of, write_files

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

TEXT = WppCall("chat.sendTextMessage", "5511999990001@c.us", ("hello", {}), "text")
OPTIONS = SessionOptions(auto_close_ms=0, watchdog_interval_ms=0)


def key() -> bytes:
    return os.urandom(32)


def write_profile(root: Path) -> dict[str, bytes]:
    """A Chromium-like profile: what must be kept, and caches that must not be."""
    kept = {
        "Local State": b'{"profile": {}}',
        "Default/Preferences": b'{"intl": "en"}',
        "Default/Cookies": os.urandom(2048),
        "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/000003.log": os.urandom(3000),
        "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/CURRENT": b"MANIFEST-1\n",
        "Default/Local Storage/leveldb/000003.log": b"last-wid-md" * 40,
        "Default/Service Worker/Database/000003.log": b"registration",
    }
    dropped = {
        "Default/Cache/Cache_Data/data_1": os.urandom(200_000),
        "Default/Code Cache/js/index": os.urandom(50_000),
        "Default/GPUCache/data_1": os.urandom(50_000),
        "Default/Service Worker/CacheStorage/abc/index": os.urandom(40_000),
        "Default/Service Worker/ScriptCache/1_0": os.urandom(40_000),
        "component_crx_cache/x.crx": os.urandom(10_000),
        "Default/History": os.urandom(10_000),
        "SingletonLock": b"host-1",
        "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/LOCK": b"",
    }
    write_files(root, {**kept, **dropped})
    return kept


# --- leases --------------------------------------------------------------------------------


async def test_one_owner_at_a_time_with_increasing_fencing_tokens(redis: Redis) -> None:
    one = LeaseManager(redis, "worker-1", ttl_ms=5000)
    two = LeaseManager(redis, "worker-2", ttl_ms=5000)
    first = await one.acquire("acme", wait=1)
    assert first.how == "free"
    assert await two.try_acquire("acme") == ("worker-1", pytest.approx(5000, abs=200))
    with pytest.raises(LeaseUnavailable) as caught:
        await two.acquire("acme", wait=0.2)
    assert caught.value.code == "session_owned_elsewhere"
    assert caught.value.retryable
    # worker-2 waits; worker-1 releases: worker-2 gets it, with a larger token.
    waiting = asyncio.create_task(two.acquire("acme", wait=5))
    await asyncio.sleep(0)  # let it ask once (no timing depends on this)
    assert await one.renew(first)
    assert await one.release(first)
    second = await asyncio.wait_for(waiting, 5)
    assert second.owner == "worker-2"
    assert second.token > first.token
    assert second.how == "released"
    # The old owner can no longer renew, pass the fencing check or release the new lease.
    assert not await one.renew(first)
    assert not await one.check(first)
    assert not await one.release(first)
    assert await two.check(second)
    assert await two.holder("acme") == ("worker-2", second.token)


async def test_an_unrenewed_lease_expires_and_the_next_owner_takes_it(redis: Redis) -> None:
    crashed = LeaseManager(redis, "worker-1", ttl_ms=300)
    lease = await crashed.acquire("acme", wait=1)
    successor = LeaseManager(redis, "worker-2", ttl_ms=5000)
    taken = await successor.acquire("acme", wait=5)  # waits for the expiry
    assert taken.token == lease.token + 1
    assert taken.how == "expired"
    assert not await crashed.check(lease)
    assert 0 < await redis.pttl(lease_key("acme")) <= 5000


# --- the archive ---------------------------------------------------------------------------


async def test_archive_keeps_the_login_and_leaves_caches_out(redis: Redis, tmp_path: Path) -> None:
    cipher = Cipher(key())
    worker1 = RedisTokenStore(tmp_path / "w1", redis, cipher)
    kept = write_profile(worker1.profile_dir("acme"))
    info = await worker1.save("acme", None)
    assert info is not None
    stored = await redis.hgetall(token_key("acme"))
    assert stored[b"format"] == b"tar+zstd"
    assert stored[b"keyId"] == cipher.key_id.encode()
    assert int(stored[b"bytes"]) == info.stored_bytes == len(stored[b"archive"])
    assert info.files == len(kept)
    assert info.stored_bytes < 20_000  # 400 kB of profile, caches left out
    assert stored[b"archive"].startswith(f"v1.{cipher.key_id}.".encode())
    # Another worker restores exactly the kept files.
    worker2 = RedisTokenStore(tmp_path / "w2", redis, cipher)
    assert await worker2.restore("acme")
    assert files_of(worker2.path("acme")) == kept
    assert worker2.path("acme").stat().st_mode & 0o777 == 0o700
    # The same archive is not unpacked twice: local changes since are kept.
    (worker2.path("acme") / "Default/Preferences").write_bytes(b"newer")
    assert await worker2.restore("acme")
    assert (worker2.path("acme") / "Default/Preferences").read_bytes() == b"newer"
    # ... but a newer archive replaces the local copy.
    await worker1.save("acme", None)
    assert await worker2.restore("acme")
    assert files_of(worker2.path("acme")) == kept
    # The archive is bound to its tenant: moved to another tenant's key, it does not decrypt.
    await redis.hset(token_key("globex"), mapping={"id": "x", "archive": stored[b"archive"]})
    with pytest.raises(DecryptionFailed):
        await worker2.restore("globex")
    # No archive and no tombstone (the first archive never landed): the local profile is
    # kept, it may be the only copy of the login ...
    await redis.delete(token_key("acme"))
    assert await worker2.restore("acme")
    assert files_of(worker2.path("acme")) == kept
    # ... but after a logout (a tombstone), a profile left on another worker is cleared.
    assert await worker1.delete("acme")
    assert await redis.exists(tombstone_key("acme"))
    assert not await worker2.restore("acme")
    assert not worker2.exists("acme")
    # The next archive (a new pairing) lifts the tombstone.
    write_profile(worker1.profile_dir("acme"))
    await worker1.save("acme", None)
    assert not await redis.exists(tombstone_key("acme"))
    assert await worker2.restore("acme")


async def test_a_rotated_key_still_restores_and_the_next_snapshot_re_encrypts(
    redis: Redis, tmp_path: Path
) -> None:
    old, new = key(), key()
    before = RedisTokenStore(tmp_path / "w1", redis, Cipher(old))
    kept = write_profile(before.profile_dir("acme"))
    await before.save("acme", None)
    rotated = RedisTokenStore(tmp_path / "w2", redis, Cipher(new, [old]))
    assert await rotated.restore("acme")
    assert files_of(rotated.path("acme")) == kept
    info = await rotated.save("acme", None)
    assert info is not None
    assert info.key_id == Cipher(new).key_id
    assert (await redis.hget(token_key("acme"), "keyId")) == Cipher(new).key_id.encode()
    only_old = RedisTokenStore(tmp_path / "w3", redis, Cipher(old))
    with pytest.raises(DecryptionFailed):
        await only_old.restore("acme")


async def test_only_the_lease_holder_writes_the_archive(redis: Redis, tmp_path: Path) -> None:
    cipher = Cipher(key())
    leases = LeaseManager(redis, "worker-1", ttl_ms=5000)
    store = RedisTokenStore(tmp_path / "w1", redis, cipher)
    write_profile(store.profile_dir("acme"))
    lease = await leases.acquire("acme", wait=1)
    assert await store.save("acme", lease) is not None
    stale = Lease("acme", "worker-1", lease.token - 1)
    before = await redis.hget(token_key("acme"), "id")
    assert await store.save("acme", stale) is None
    assert await redis.hget(token_key("acme"), "id") == before


async def test_an_archive_under_its_pre_cluster_key_is_adopted(
    redis: Redis, tmp_path: Path
) -> None:
    """Upgrading keeps logins: an archive at ``wppconnect:token:acme`` (no hash tag, as
    stored by releases before the cluster layout) is moved to ``token_key`` on restore."""
    cipher = Cipher(key())
    old = RedisTokenStore(tmp_path / "w1", redis, cipher)
    kept = write_profile(old.profile_dir("acme"))
    await old.save("acme", None)
    fields = await redis.hgetall(token_key("acme"))
    await redis.delete(token_key("acme"))
    await redis.hset(legacy_token_key("acme"), mapping=fields)  # where it used to be
    assert legacy_token_key("acme") != token_key("acme")
    upgraded = RedisTokenStore(tmp_path / "w2", redis, cipher)
    assert await upgraded.restore("acme")
    assert files_of(upgraded.path("acme")) == kept
    assert await redis.hgetall(token_key("acme")) == fields
    assert not await redis.exists(legacy_token_key("acme"))
    # A logout removes it wherever it is.
    await redis.hset(legacy_token_key("acme"), mapping=fields)
    assert await upgraded.delete("acme")
    assert not await redis.exists(token_key("acme"))
    assert not await redis.exists(legacy_token_key("acme"))


# --- two workers over fake pages --------------------------------------------------------------


class Worker:
    def __init__(self, name: str, redis: Redis, folder: Path, cipher: Cipher, world: Any) -> None:
        self.events = Recorder()
        self.tokens = RedisTokenStore(folder, redis, cipher)
        self.leases = LeaseManager(redis, name, ttl_ms=30000)  # no upkeep renews it here
        self.manager = SessionManager(
            make_settings(wppconnect_token_folder=str(folder), wppconnect_lease_ttl_ms=30000),
            driver_factory=world.factory,
            listener=self.events,
            tokens=self.tokens,
            leases=self.leases,
        )

    async def in_chat(self) -> None:
        """Until acme's session on this worker has reported ``inChat``."""
        await self.events.wait(lambda r: "inChat" in r.status_names())

    async def restore_archived(self) -> WhatsAppSession:
        """acme paired earlier and archived: its session started here, logged in."""
        self.tokens.profile_dir("acme").joinpath("fake-pairing").write_text("5511988887777")
        await self.tokens.save("acme", None)  # paired earlier, archived
        session = await self.manager.ensure("acme", OPTIONS)
        await self.in_chat()
        return session


@pytest_asyncio.fixture
async def workers(
    redis: Redis, tmp_path: Path
) -> AsyncIterator[tuple[FakeWhatsApp, Worker, Worker]]:
    world = FakeWhatsApp()
    cipher = Cipher(key())
    one = Worker("worker-1", redis, tmp_path / "w1", cipher, world)
    two = Worker("worker-2", redis, tmp_path / "w2", cipher, world)
    yield world, one, two
    for worker in (one, two):
        await worker.manager.close_all()


async def test_hand_over_restores_the_login_on_the_next_owner_without_a_qr(
    workers: tuple[FakeWhatsApp, Worker, Worker], redis: Redis
) -> None:
    world, one, two = workers
    await one.manager.ensure("acme", OPTIONS, partition=3)
    await one.events.wait(lambda r: len(r.qrs) == 1)
    world.latest("acme").scan("5511988887777")
    await one.in_chat()
    # The next owner waits for the lease while the first one still runs the session.
    taking = asyncio.create_task(two.manager.ensure("acme", OPTIONS, partition=3))
    await asyncio.sleep(0)
    assert not taking.done()
    assert await one.manager.close_partitions({3}) == ["acme"]
    session = await asyncio.wait_for(taking, 10)
    await two.in_chat()
    assert two.events.status_names() == ["isLogged", "inChat"]  # no QR: restored
    assert two.events.qrs == []
    assert one.events.status_names()[-1] == "browserClose"
    assert world.drivers[0].closed
    holder = await two.leases.holder("acme")
    assert holder is not None
    assert holder[0] == "worker-2"
    message_id = await two.manager.send(session, TEXT, key="3EB0AAAABBBBCCCCDDDD")
    assert world.sent[-1].message_id == message_id
    assert world.sent[-1].args[-1] == {"messageId": "true_5511999990001@c.us_3EB0AAAABBBBCCCCDDDD"}


async def test_a_worker_that_lost_its_lease_never_sends_nor_overwrites_the_archive(
    workers: tuple[FakeWhatsApp, Worker, Worker], redis: Redis
) -> None:
    world, one, two = workers
    session = await one.restore_archived()
    await one.manager.send(session, TEXT)
    await one.manager.drain_background()  # the after-login snapshot
    # worker-1 stalls past its TTL; worker-2 takes over and archives.
    await redis.delete(lease_key("acme"))
    await two.manager.ensure("acme", OPTIONS)
    await two.in_chat()
    await two.manager.drain_background()
    archive = await redis.hget(token_key("acme"), "id")
    assert (await redis.hget(token_key("acme"), "owner")) == b"worker-2"
    sent = len(world.sent)
    with pytest.raises(RetryableError) as caught:
        await one.manager.send(session, TEXT)
    assert caught.value.code == "session_not_owned"
    assert len(world.sent) == sent
    await one.events.wait(lambda r: r.status_names()[-1] == "browserClose")
    assert session.lease_lost
    await one.manager.drain_background()
    assert await redis.hget(token_key("acme"), "id") == archive
    holder = await two.leases.holder("acme")
    assert holder is not None
    assert holder[0] == "worker-2"


async def test_logout_deletes_the_token_everywhere(
    workers: tuple[FakeWhatsApp, Worker, Worker], redis: Redis
) -> None:
    world, one, _ = workers
    await one.restore_archived()
    await one.manager.drain_background()  # the after-login snapshot
    assert await redis.exists(token_key("acme"))
    world.latest("acme").emit("conn.logout")
    await one.events.wait(lambda r: "deleteToken" in r.status_names())
    assert not await redis.exists(token_key("acme"))
    assert not one.tokens.exists("acme")
    assert not await redis.exists(lease_key("acme"))  # released
