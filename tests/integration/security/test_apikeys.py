"""API keys: scopes, expiry, exact revocation, tenant validation (issue #18, section 2).

Each test tries the attack against a real redis-server and sees it fail.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from schemas.status import utcnow
from schemas.whatsapp import CommandName, SessionCommand
from streams.cli.main import main
from streams.pipeline.ratelimit import TokenBucket
from streams.tenancy.auth import InvalidApiKeyRequest, Scope, TenantKeys
from streams.whatsapp import SessionEndpoints, SessionStore
from tests.inbox import make_api, migrated_store

pytestmark = pytest.mark.integration


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def session_endpoints(redis: Redis, sent: list[SessionCommand]) -> SessionEndpoints:
    async def produce(command: SessionCommand) -> None:
        sent.append(command)

    return SessionEndpoints(
        keys=TenantKeys(redis),
        bucket=TokenBucket(redis),
        store=SessionStore(redis, owner="worker-1"),
        commands=produce,
    )


async def test_an_inbox_key_cannot_disconnect_the_whatsapp_session(redis: Redis) -> None:
    keys = TenantKeys(redis)
    inbox_key, _ = await keys.create("acme", "inbox-ui", scopes=[Scope.INBOX])
    session_key, _ = await keys.create("acme", "ops", scopes=[Scope.SESSION])
    sent: list[SessionCommand] = []
    endpoints = session_endpoints(redis, sent)

    denied = await endpoints.command("acme", CommandName.DISCONNECT, bearer(inbox_key))
    assert denied.status == 403
    assert "session" in orjson.loads(denied.body)["error"]
    assert (await endpoints.qr("acme", bearer(inbox_key))).status == 403
    assert sent == []  # nothing reached whatsapp.commands

    allowed = await endpoints.command("acme", CommandName.DISCONNECT, bearer(session_key))
    assert allowed.status == 202
    assert [c.command for c in sent] == [CommandName.DISCONNECT]


async def test_a_session_key_cannot_read_the_inbox(redis: Redis, tmp_path: Path) -> None:
    async with migrated_store(f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}") as store:
        api = make_api(store, redis)
        session_key, _ = await api.keys.create("acme", scopes=[Scope.SESSION])
        inbox_key, _ = await api.keys.create("acme", scopes=[Scope.INBOX])
        denied = await api.list("acme", "u-1", bearer(session_key), {})
        assert denied.status == 403
        assert orjson.loads(denied.body)["error"] == "forbidden"
        assert (await api.list("acme", "u-1", bearer(inbox_key), {})).status == 200


async def test_an_expired_key_is_refused(redis: Redis) -> None:
    keys = TenantKeys(redis)
    key, info = await keys.create("acme", expires_at=utcnow() + timedelta(seconds=30))
    assert (await keys.authorize("acme", key, Scope.SESSION)).ok
    # Redis drops the record at the expiry (PEXPIREAT), whatever the worker's clock says.
    ttl = await redis.pttl(f"herald:apikey:{_digest(key)}")
    assert 0 < ttl <= 30_000
    # And a key whose expiry passed while Redis still holds it (clock skew) is refused too.
    # The tenant's hash is authoritative (docs/redis.md): its copy of the record says so.
    raw = orjson.loads(await redis.hget("herald:apikeys:{acme}", _digest(key)) or b"{}")
    raw["expiresAt"] = (utcnow() - timedelta(seconds=1)).isoformat()
    await redis.hset("herald:apikeys:{acme}", _digest(key), orjson.dumps(raw))
    result = await keys.authorize("acme", key, Scope.SESSION)
    assert (result.status, result.reason) == (401, "expired API key")
    assert info.expires_at is not None
    with pytest.raises(InvalidApiKeyRequest):
        await keys.create("acme", expires_at=utcnow() - timedelta(seconds=1))


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def test_revoke_needs_the_exact_key_id(redis: Redis) -> None:
    keys = TenantKeys(redis)
    key, info = await keys.create("acme", "ui")
    for partial in ("", info.key_id[:1], info.key_id[:11], info.key_id.upper(), " " + info.key_id):
        with pytest.raises(InvalidApiKeyRequest):
            await keys.revoke("acme", partial)
    assert (await keys.authorize("acme", key, Scope.SESSION)).ok  # still there
    assert not await keys.revoke("globex", info.key_id)  # another tenant's id: no effect
    assert (await keys.authorize("acme", key, Scope.SESSION)).ok
    assert await keys.revoke("acme", info.key_id)
    assert (await keys.authorize("acme", key, Scope.SESSION)).status == 401


@pytest.mark.parametrize("tenant", ["acme\n", "", "-acme", "ac me", "_system", "a" * 129])
async def test_create_refuses_an_invalid_tenant(redis: Redis, tenant: str) -> None:
    with pytest.raises(InvalidApiKeyRequest):
        await TenantKeys(redis).create(tenant)
    assert await redis.keys("herald:apikey*") == []


def test_cli_revoke_with_an_empty_key_id_revokes_nothing(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["apikeys", "create", "--tenant", "acme", "--scope", "inbox"]) == 0
    assert main(["apikeys", "list", "--tenant", "acme", "--json"]) == 0
    out = capsys.readouterr().out
    listed = orjson.loads(out[out.index("[") :])
    assert [k["scopes"] for k in listed] == [["inbox"]]
    assert main(["apikeys", "revoke", "--tenant", "acme", "--key-id", ""]) == 1
    assert "12 lowercase hex" in capsys.readouterr().err
    assert main(["apikeys", "list", "--tenant", "acme", "--json"]) == 0
    out = capsys.readouterr().out
    assert len(orjson.loads(out[out.index("[") :])) == 1
    assert main(["apikeys", "create", "--tenant", "acme\n"]) == 1
    assert "invalid tenant id" in capsys.readouterr().err
    assert main(["apikeys", "create", "--tenant", "acme", "--expires-in", "soon"]) == 1
