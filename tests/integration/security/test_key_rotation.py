"""``herald keys rotate`` (issue #18, section 2): after a rotation and the removal of the
old key, every integration and WhatsApp archive is still readable; what no known key opens
is reported and left in place."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from streams.cli.main import main
from streams.tenancy.crypto import Cipher, DecryptionFailed, decode_key
from streams.tenancy.integrations import CAS_HSET, IntegrationStore
from streams.whatsapp.sealed import SealedFileTokenStore
from streams.whatsapp.tokens import RedisTokenStore, token_key

pytestmark = pytest.mark.integration


async def cli(argv: list[str]) -> int:
    return await asyncio.to_thread(main, argv)  # main runs its own event loop


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


CREDS = {
    "phoneNumberId": "1100001",
    "accessToken": "EAAG-access-token-secret",
    "appSecret": "app-secret-value",
    "verifyToken": "verify-token-value",
}


async def test_rotate_then_drop_the_old_key(
    redis: Redis,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new = new_key(), new_key()
    old_cipher = Cipher(decode_key(old))
    store = IntegrationStore(redis, old_cipher)
    await store.set("acme", "whatsapp-business", CREDS, is_default=True)
    await store.set("_system", "whatsapp-business", {**CREDS, "phoneNumberId": "1100002"})
    tokens = RedisTokenStore(tmp_path / "w1", redis, old_cipher)
    profile = tokens.profile_dir("acme")
    (profile / "Local Storage").mkdir()
    (profile / "Local Storage" / "leveldb").write_bytes(b"the login")
    saved = await tokens.save("acme", None)
    assert saved is not None
    sealed = SealedFileTokenStore(tmp_path / "files", old_cipher)  # the `file` store's
    (sealed.profile_dir("globex") / "Local Storage").mkdir()
    (sealed.path("globex") / "Local Storage" / "leveldb").write_bytes(b"a file login")
    sealed_before = await sealed.save("globex", None)
    assert sealed_before is not None
    assert await sealed.forget_local("globex")

    # Without the rotation, dropping the old key leaves unreadable integrations.
    new_only = Cipher(decode_key(new))
    with pytest.raises(DecryptionFailed):
        await IntegrationStore(redis, new_only).credentials("acme", "whatsapp-business")

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("HERALD_SECRET_KEY", new)
    monkeypatch.setenv("HERALD_PREVIOUS_SECRET_KEYS", old)
    monkeypatch.setenv("WHATSAPP_WPPCONNECT_TOKEN_FOLDER", str(tmp_path / "files"))
    assert await cli(["keys", "rotate", "--dry-run", "--json"]) == 0
    dry = orjson.loads(capsys.readouterr().out)
    assert sorted(dry["results"][0]["rotated"]) == [
        "_system:whatsapp-business",
        "acme:whatsapp-business",
    ]
    with pytest.raises(DecryptionFailed):  # a dry run changes nothing
        await IntegrationStore(redis, new_only).credentials("acme", "whatsapp-business")

    assert await cli(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    assert "integrations: re-encrypted 2" in out
    assert "whatsapp-archives: re-encrypted 1" in out
    assert "whatsapp-sealed-archives: re-encrypted 1" in out
    assert "EAAG" not in out

    # The old key is gone: everything still reads under the new key alone.
    readable = IntegrationStore(redis, new_only)
    creds = await readable.credentials("acme", "whatsapp-business")
    assert creds is not None
    assert (
        creds.model_dump(mode="python")["access_token"].get_secret_value() == CREDS["accessToken"]
    )
    assert await readable.credentials("_system", "whatsapp-business") is not None
    summary = await readable.get("acme", "whatsapp-business")
    assert summary is not None
    assert summary.key_id == new_only.key_id
    archive = await redis.hgetall(token_key("acme"))
    assert archive[b"keyId"] == new_only.key_id.encode()
    assert int(archive[b"bytes"]) == len(archive[b"archive"])
    assert archive[b"id"].decode() == saved.archive_id  # same content, same id
    other_worker = RedisTokenStore(tmp_path / "w2", redis, new_only)
    assert await other_worker.restore("acme")
    assert (other_worker.path("acme") / "Local Storage" / "leveldb").read_bytes() == b"the login"
    reopened = SealedFileTokenStore(tmp_path / "files", new_only)
    assert await reopened.restore("globex")
    assert (reopened.path("globex") / "Local Storage" / "leveldb").read_bytes() == b"a file login"
    info = reopened.info("globex")
    assert info is not None
    assert info["keyId"] == new_only.key_id
    assert info["id"] == sealed_before.archive_id  # same content, same id

    # A second run finds nothing left to do.
    assert await cli(["keys", "rotate", "--json"]) == 0
    again = orjson.loads(capsys.readouterr().out)
    assert [(r["rotated"], r["current"]) for r in again["results"]] == [([], 2), ([], 1), ([], 1)]


async def test_an_unreadable_record_is_reported_and_kept(
    redis: Redis,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lost = Cipher(decode_key(new_key()))  # a key nobody configured any more
    await IntegrationStore(redis, lost).set("acme", "whatsapp-business", CREDS)
    before = await redis.hgetall("herald:integrations:{acme}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("HERALD_SECRET_KEY", new_key())
    monkeypatch.delenv("HERALD_PREVIOUS_SECRET_KEYS", raising=False)
    assert await cli(["keys", "rotate"]) == 1
    out = capsys.readouterr().out
    assert "FAILED   integration acme:whatsapp-business" in out
    assert lost.key_id in out  # names the missing key's id, so the operator can find it
    assert await redis.hgetall("herald:integrations:{acme}") == before


async def test_a_record_changed_during_the_rotation_is_not_overwritten(redis: Redis) -> None:
    """The write is a compare-and-set: a record a worker replaced after the rotation read
    it keeps the worker's version (the command then says ``changed``: run it again)."""
    key = "herald:integrations:{acme}"
    await IntegrationStore(redis, Cipher(decode_key(new_key()))).set(
        "acme", "whatsapp-business", CREDS
    )
    read = await redis.hget(key, "whatsapp-business")
    assert read is not None
    cas = redis.register_script(CAS_HSET)
    await redis.hset(key, "whatsapp-business", b"written by a worker meanwhile")
    assert int(await cas(keys=[key], args=["whatsapp-business", read, b"rotated"])) == 0
    assert await redis.hget(key, "whatsapp-business") == b"written by a worker meanwhile"
    current = b"written by a worker meanwhile"
    assert (
        int(await cas(keys=[key], args=["whatsapp-business", current, b"rotated", "k", "v"])) == 1
    )
    assert await redis.hmget(key, ["whatsapp-business", "k"]) == [b"rotated", b"v"]
