"""Every Redis client Herald builds: one node, or a Redis Cluster (``redis_client``).

``REDIS_URL`` names one server (``redis://host:6379/0``) or the seed nodes of a Redis
Cluster, comma-separated after the first node's scheme and credentials::

    redis://:secret@10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379

Several nodes select redis-py's cluster client (``redis.asyncio.cluster.RedisCluster``);
``HERALD_REDIS_CLUSTER=true`` selects it for a single seed node too (a managed cluster's
configuration endpoint), ``false`` refuses a list. A cluster has database 0 only.

Herald's keys are laid out for a cluster (``streams.tenancy.keys``): every Lua script and
every transaction touches one hash slot -- the tenant's (``{tenantId}`` hash tags) or a
provider message id's -- so the same code runs on one node and on a cluster.

The worker's client waits for a free connection when all are busy (on one node a
``BlockingConnectionPool``; on a cluster, where redis-py raises ``MaxConnectionsError``
instead, a semaphore of ``HERALD_REDIS_MAX_CONNECTIONS`` commands in flight).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

    from schemas.settings import Settings

__all__ = [
    "RedisTarget",
    "parse_redis_url",
    "queue_script",
    "redis_client",
    "redis_for",
    "run_pipeline",
]

#: Extra connections per cluster node beyond the command limit, for WATCH transactions
#: (they hold a connection between WATCH and EXEC, outside the command semaphore).
_TRANSACTION_HEADROOM = 8


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """``REDIS_URL`` taken apart: a URL for the first node, and every node listed."""

    url: str  # the first node, with the scheme, credentials, path and query of the setting
    nodes: tuple[tuple[str, int], ...]

    @property
    def several(self) -> bool:
        return len(self.nodes) > 1


def parse_redis_url(url: str) -> RedisTarget:
    """Split ``redis://[auth@]h1:p1,h2:p2,.../0?opts`` (a single node is a list of one).

    Items may repeat the scheme (``redis://h1:p1,redis://h2:p2``), as in a list of URLs.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"not a Redis URL (redis://, rediss:// or unix://): {url!r}")
    if parts.scheme == "unix" or "," not in url:
        host, port = parts.hostname or "localhost", parts.port or 6379
        return RedisTarget(url=url.strip(), nodes=((host, port),))
    auth = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    path, query = "", ""
    nodes: list[tuple[str, int]] = []
    for item in url.strip().split(","):
        item = item.strip()
        sub = urlsplit(item if "://" in item else f"{parts.scheme}://{item}")
        path, query = path or sub.path, query or sub.query
        name, sep, number = sub.netloc.rpartition("@")[2].rpartition(":")
        if not sep or not name or not number.isdigit():
            raise ValueError(f"a Redis node must be host:port, got {item!r} in the URL")
        nodes.append((name.strip("[]"), int(number)))
    first_host, first_port = nodes[0]
    netloc = f"{auth}@" if auth else ""
    netloc += f"[{first_host}]" if ":" in first_host else first_host
    netloc += f":{first_port}"
    first = urlunsplit((parts.scheme, netloc, path, query, ""))
    return RedisTarget(url=first, nodes=tuple(nodes))


class _BoundedPipeline(ClusterPipeline):
    """A cluster pipeline that takes one of its client's command permits to execute."""

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        client = cast("_BoundedCluster", self.cluster_client)
        async with client.permits:
            return await super().execute(raise_on_error, allow_redirections)


class _BoundedCluster(RedisCluster):
    """``RedisCluster`` that waits for a free connection instead of failing.

    redis-py's cluster client raises ``MaxConnectionsError`` once a node's pool is
    exhausted. A command or a pipeline uses at most one connection per node, so at most
    ``permits`` of them in flight keep every node's pool within its limit.
    """

    def __init__(self, *args: Any, command_limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.permits = asyncio.Semaphore(command_limit)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self.permits:
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # raises, as redis-py does
        return _BoundedPipeline(self, transaction)  # type: ignore[abstract]


def redis_client(
    url: str,
    *,
    cluster: bool | None = None,
    max_connections: int | None = None,
    **kwargs: Any,
) -> Redis:
    """A client for ``url``: one node, or a Redis Cluster (see the module docstring).

    ``cluster``: ``None`` decides by the number of nodes listed. ``max_connections``: a
    bounded pool whose callers wait for a free connection (unset: redis-py's defaults).
    Other keyword arguments go to redis-py (``decode_responses``, ``socket_timeout``...).

    The cluster client is returned typed as :class:`redis.asyncio.Redis`: it has the same
    command API for what Herald sends (single-slot scripts, transactions and commands), so
    the stores take either without a union in every signature.
    """
    target = parse_redis_url(url)
    if cluster is False and target.several:
        raise ValueError("REDIS_URL lists several nodes but HERALD_REDIS_CLUSTER is false")
    if cluster or target.several:
        # The first node comes from the URL itself (with its credentials); the rest as seeds.
        nodes = [ClusterNode(host, port) for host, port in target.nodes[1:]]
        if max_connections is not None:
            client: RedisCluster = _BoundedCluster.from_url(
                target.url,
                startup_nodes=nodes,
                command_limit=max_connections,
                max_connections=max_connections + _TRANSACTION_HEADROOM,
                **kwargs,
            )
        else:
            client = RedisCluster.from_url(target.url, startup_nodes=nodes, **kwargs)
        return cast(Redis, client)
    if max_connections is not None:
        pool = BlockingConnectionPool.from_url(
            target.url,
            max_connections=max_connections,
            timeout=None,  # wait for a free connection rather than fail
            **kwargs,
        )
        return Redis(connection_pool=pool)
    return Redis.from_url(target.url, **kwargs)


def redis_for(settings: Settings, *, pooled: bool = False, **kwargs: Any) -> Redis:
    """The client ``settings`` ask for; ``pooled``: a worker's bounded, health-checked pool."""
    if pooled:
        kwargs.setdefault("max_connections", settings.redis_max_connections)
        kwargs.setdefault("health_check_interval", 15)
    return redis_client(settings.redis_url, cluster=settings.redis_cluster, **kwargs)


def queue_script(pipe: Any, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> None:
    """Queue a call of ``script`` on a pipeline of either kind (for batches).

    redis-py refuses EVALSHA in a cluster pipeline, so there the script's body goes with the
    call (EVAL; the server compiles a body once and caches it by its digest). On one node
    the script goes as EVALSHA alone: redis-py's own way (``script(client=pipe)``) asks
    ``SCRIPT EXISTS`` before every pipeline, a round trip more per batch; a server that lost
    the script answers NOSCRIPT instead, and the caller loads it and runs the pipeline
    again (:func:`run_pipeline`). Each call's ``keys`` must share one slot, as for any
    script (docs/redis.md).
    """
    if isinstance(pipe, ClusterPipeline):
        body = script.script
        pipe.eval(body if isinstance(body, str) else bytes(body).decode(), len(keys), *keys, *args)
        return
    pipe.evalsha(script.sha, len(keys), *keys, *args)


async def run_pipeline(
    redis: Any, build: Callable[[Any], None], scripts: Sequence[AsyncScript]
) -> list[Any]:
    """Build a non-transactional pipeline with ``build`` and run it; if the server lost a
    script (a restart, ``SCRIPT FLUSH``), load ``scripts`` and run it once more.

    ``build`` must queue commands that are safe to run twice: a pipeline whose script was
    refused ran its other commands, and the script calls of one node use one digest, so
    they are all refused together.
    """
    for attempt in (1, 2):
        async with redis.pipeline(transaction=False) as pipe:
            build(pipe)
            try:
                return list(await pipe.execute())
            except NoScriptError:
                if attempt == 2:
                    raise
        for script in scripts:
            await redis.script_load(script.script)
    raise AssertionError("unreachable")
