"""A real Redis Cluster of three primaries for the tests, on free loopback ports.

Three ``redis-server --cluster-enabled yes`` (diskless, each in its own folder for its
``nodes.conf``), joined by ``redis-cli --cluster create ... --cluster-yes``; ready once
``CLUSTER INFO`` says ``cluster_state:ok`` on every node. Yields the URL Herald reads
(``redis://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3``).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.platform.embedded import (
    EmbeddedServiceError,
    redis_server_argv,
    spawn,
    terminate_process,
)

__all__ = ["redis_cluster"]

HOST = "127.0.0.1"


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _cluster_ports(count: int) -> list[int]:
    """Ports whose cluster bus port (port + 10000) is free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port + 10000 <= 65535 and port not in ports and _free(port + 10000):
            ports.append(port)
        elif port > 55535:
            # Ephemeral ports are high; fall back to scanning a lower range.
            for candidate in range(20000, 30000, 7):
                if candidate not in ports and _free(candidate) and _free(candidate + 10000):
                    ports.append(candidate)
                    break
    return ports


async def _ping(port: int, timeout: float) -> None:  # noqa: ASYNC109 - startup deadline
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        client = aioredis.Redis(host=HOST, port=port, socket_connect_timeout=1.0)
        try:
            await client.ping()
            return
        except (RedisError, OSError):
            if loop.time() > deadline:
                raise
        finally:
            await client.aclose()
        await asyncio.sleep(0.02)


async def _cluster_ok(ports: list[int], timeout: float) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for port in ports:
        client = aioredis.Redis(host=HOST, port=port)
        try:
            while True:
                info = await client.execute_command("CLUSTER", "INFO")
                text = info.decode() if isinstance(info, bytes) else str(info)
                if "cluster_state:ok" in text:
                    break
                if loop.time() > deadline:
                    raise TimeoutError(f"redis cluster node {port}: {text.splitlines()[:2]}")
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()


@asynccontextmanager
async def redis_cluster(folder: Path, primaries: int = 3) -> AsyncIterator[str]:
    """Run a Redis Cluster of ``primaries`` nodes under ``folder``; yields its URL."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise EmbeddedServiceError("a Redis Cluster needs redis-cli on PATH")
    ports = _cluster_ports(primaries)
    async with AsyncExitStack() as stack:
        for port in ports:
            node_dir = folder / f"node-{port}"
            node_dir.mkdir(parents=True, exist_ok=True)
            argv = redis_server_argv(
                HOST,
                port,
                node_dir,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(node_dir / "nodes.conf"),
                "--cluster-node-timeout",
                "5000",
            )
            proc = await spawn(argv, log_path=node_dir / "redis.log")
            stack.push_async_callback(terminate_process, proc)
            await _ping(port, 20.0)
        create = await asyncio.create_subprocess_exec(
            cli,
            "--cluster",
            "create",
            *(f"{HOST}:{port}" for port in ports),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await create.communicate()
        if create.returncode != 0:
            raise EmbeddedServiceError(
                f"redis-cli --cluster create failed: {output.decode(errors='replace')[-500:]}"
            )
        await _cluster_ok(ports, 30.0)
        yield "redis://" + ",".join(f"{HOST}:{port}" for port in ports)
    with contextlib.suppress(OSError):
        shutil.rmtree(folder)
