"""``REDIS_URL`` parsing and the choice between the single-node and the cluster client."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from streams.platform.redis import parse_redis_url, redis_client, redis_for
from streams.tenancy import keys
from tests.helpers import make_settings


def test_a_single_node_url_is_kept_as_it_is() -> None:
    target = parse_redis_url("redis://:pw@cache:6380/2?socket_timeout=3")
    assert target.url == "redis://:pw@cache:6380/2?socket_timeout=3"
    assert target.nodes == (("cache", 6380),)
    assert not target.several


@pytest.mark.parametrize(
    "url",
    [
        "redis://user:pw@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002/0",
        "redis://user:pw@10.0.0.1:7000,redis://10.0.0.2:7001,redis://10.0.0.3:7002/0",
    ],
)
def test_a_node_list_keeps_the_first_nodes_credentials_and_lists_every_node(url: str) -> None:
    target = parse_redis_url(url)
    assert target.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001), ("10.0.0.3", 7002))
    assert target.url == "redis://user:pw@10.0.0.1:7000/0"
    assert target.several


@pytest.mark.parametrize("url", ["redis://h1:7000,h2", "http://h1:1,h2:2", "redis://h1:1,:2"])
def test_malformed_node_lists_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="Redis"):
        parse_redis_url(url)


async def test_the_client_is_chosen_by_the_url_and_the_setting() -> None:
    single = redis_client("redis://127.0.0.1:6399/0")
    several = redis_client("redis://127.0.0.1:7000,127.0.0.1:7001")
    forced = redis_client("redis://127.0.0.1:7000", cluster=True)
    try:
        assert type(single) is Redis
        assert isinstance(several, RedisCluster)
        assert isinstance(forced, RedisCluster)
        assert sorted((n.host, n.port) for n in several.startup_nodes) == [
            ("127.0.0.1", 7000),
            ("127.0.0.1", 7001),
        ]
    finally:
        for client in (single, several, forced):
            await client.aclose()
    with pytest.raises(ValueError, match="HERALD_REDIS_CLUSTER"):
        redis_client("redis://127.0.0.1:7000,127.0.0.1:7001", cluster=False)


async def test_a_workers_pooled_client_waits_for_connections_on_either_kind() -> None:
    one = redis_for(make_settings(redis_url="redis://127.0.0.1:6399/0"), pooled=True)
    many = redis_for(
        make_settings(redis_url="redis://127.0.0.1:7000,127.0.0.1:7001", redis_max_connections=5),
        pooled=True,
    )
    try:
        pool = one.connection_pool
        assert type(pool).__name__ == "BlockingConnectionPool"
        assert pool.max_connections == 64
        assert isinstance(many, RedisCluster)  # waiting shown in tests/integration/test_redis.py
    finally:
        await one.aclose()
        await many.aclose()


def _slot(key: str) -> int:
    """The key's Redis Cluster hash slot (redis-py's CRC16 of its hash tag, as the server)."""
    return int(key_slot(key.encode()))


def test_a_correlation_and_its_parked_list_share_a_slot() -> None:
    assert _slot(keys.parked("twilio", "SM1")) == _slot(keys.correlation("twilio", "SM1"))
    spread = {_slot(keys.correlation("twilio", f"SM{i}")) for i in range(50)}
    assert len(spread) > 40  # message ids spread over the cluster


def test_a_tenants_keys_share_the_tenants_slot() -> None:
    from streams.whatsapp.lease import fence_key, lease_key
    from streams.whatsapp.tokens import token_key

    for tenant in ("acme", "globex", "t-1"):
        tagged = [
            keys.notification(tenant, "n-1"),
            keys.notification(tenant, "n-2"),
            keys.integrations(tenant),
            lease_key(tenant),
            fence_key(tenant),
            token_key(tenant),
        ]
        assert {_slot(k) for k in tagged} == {_slot(tenant)}
    assert _slot(keys.notification("acme", "n")) != _slot(keys.notification("globex", "n"))
