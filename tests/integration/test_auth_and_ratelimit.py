from __future__ import annotations

import pytest
from redis.asyncio import Redis

from streams.cli.main import main
from streams.pipeline.ratelimit import TokenBucket
from streams.tenancy.auth import TenantKeys, bearer_key

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


async def test_api_keys_authorize_only_their_tenant(redis: Redis) -> None:
    keys = TenantKeys(redis)
    key, info = await keys.create("acme", "ui")
    assert (await keys.authorize("acme", key)).status == 200
    assert (await keys.authorize("globex", key)).status == 403
    assert (await keys.authorize("acme", None)).status == 401
    assert (await keys.authorize("acme", key + "x")).status == 401
    names = [k async for k in redis.scan_iter(match="herald:apikey*")]  # every cluster node
    assert len(names) == 2  # something is stored (the tenant's hash, the key's record)...
    dump = b""
    for name in names:
        if await redis.type(name) == b"hash":
            dump += b"".join(f + v for f, v in (await redis.hgetall(name)).items())
        else:
            dump += await redis.get(name) or b""
    assert key.encode() not in dump  # ...but never the key itself
    assert [k.key_id for k in await keys.list("acme")] == [info.key_id]
    assert await keys.revoke("acme", info.key_id)
    assert (await keys.authorize("acme", key)).status == 401
    assert (await keys.authorize("globex", key)).status == 401
    assert [k async for k in redis.scan_iter(match="herald:apikey*")] == []


def test_bearer_key_reads_both_headers() -> None:
    assert bearer_key({"Authorization": "Bearer abc"}) == "abc"
    assert bearer_key({"X-Api-Key": "xyz"}) == "xyz"
    assert bearer_key({"Authorization": "Basic abc"}) is None


async def test_token_bucket_delays_instead_of_dropping(redis: Redis) -> None:
    bucket = TokenBucket(redis)
    waits = [await bucket.take("t:p", rate=10, burst=3) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(0 < w <= 0.2 for w in waits[3:])
    other = await bucket.take("t:q", rate=10, burst=3)
    assert other == 0.0  # buckets are independent


def test_apikeys_cli_prints_the_key_once(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["apikeys", "create", "--tenant", "acme", "--name", "ui"]) == 0
    key = capsys.readouterr().out.splitlines()[0]
    assert key.startswith("hrk_")
    assert main(["apikeys", "list", "--tenant", "acme"]) == 0
    listing = capsys.readouterr().out
    assert "ui" in listing
    assert key not in listing
