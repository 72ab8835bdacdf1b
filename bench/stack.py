"""The services a bench run needs: broker, Redis, the Graph API sandbox, worker processes.

One :class:`Stack` per run: the embedded broker and Redis are shared by every scenario
("the same broker"); each scenario gets its own topics and consumer group (fresh
:meth:`Stack.settings`), so no scenario reads another's records.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis

from bench.procstats import start_ticks, tree
from sandbox import GRAPH_VERSION
from schemas import Settings
from seeds import load_seeds
from streams.platform.admin import ensure_topics
from streams.platform.embedded import (
    embedded_kafka,
    embedded_redis,
    find_free_port,
    settings_env,
    settings_env_names,
    spawn,
    terminate_process,
)
from streams.tenancy.crypto import Cipher, generate_key
from streams.tenancy.integrations import IntegrationStore

__all__ = ["ACCESS_TOKEN", "PHONE_NUMBER_ID", "Process", "Stack", "tenants"]

PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "bench-token"
APP_SECRET = "bench-app-secret"

#: Unlimited rate for the throughput runs: the Cloud API's 80/s per tenant would measure
#: the token bucket, not the router (the bucket's Redis round trip still happens).
NO_RATE_LIMIT = {"whatsapp-business": {"perSecond": 1_000_000, "burst": 1_000_000}}


def tenants(count: int) -> list[str]:
    return [f"bench-t{i:03d}" for i in range(count)]


@dataclass
class Process:
    """A child process the bench measures from the outside."""

    name: str
    proc: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self, grace: float = 15.0) -> int:
        """SIGTERM, SIGKILL after ``grace``; then SIGKILL what it left behind (browsers)."""
        descendants = [(p, start_ticks(p)) for p in tree(self.pid)[1:]] if self.running else []
        code = await terminate_process(self.proc, grace)
        for pid, started in reversed(descendants):
            if started is not None and start_ticks(pid) == started:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        return code


def _pid_of_port_owner(port: int) -> int | None:
    """The pid listening on ``port`` (Linux ``/proc/net/tcp``): to measure the services."""
    inode = None
    hex_port = f"{port:04X}"
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            parts = line.split()
            if parts[1].endswith(":" + hex_port) and parts[3] == "0A":  # LISTEN
                inode = parts[9]
                break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return int(proc.name)
    return None


@dataclass
class Stack:
    """Broker, Redis, tenants with integrations, and the WhatsApp Business sandbox."""

    workdir: Path
    tenant_count: int = 50
    bootstrap: str = ""
    redis_url: str = ""
    secret_key: str = field(default_factory=generate_key)
    sandbox_url: str = ""
    pids: dict[str, int] = field(default_factory=dict)  # broker, redis, sandbox
    _exit: AsyncExitStack = field(default_factory=AsyncExitStack)
    _processes: list[Process] = field(default_factory=list)

    @classmethod
    @asynccontextmanager
    async def running(cls, workdir: Path, tenant_count: int = 50) -> AsyncIterator[Stack]:
        stack = cls(workdir=workdir, tenant_count=tenant_count)
        async with stack._exit:
            await stack._start()
            try:
                yield stack
            finally:
                for process in reversed(stack._processes):
                    await process.stop()

    async def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            self.bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        else:
            self.bootstrap = await self._exit.enter_async_context(
                embedded_kafka(log_path=self.workdir / "broker.log")
            )
        if os.environ.get("REDIS_URL"):
            self.redis_url = os.environ["REDIS_URL"]
        else:
            self.redis_url = await self._exit.enter_async_context(embedded_redis())
        for name, address in (
            ("broker", self.bootstrap.split(",")[0]),
            ("redis", self.redis_url.rsplit("/", 1)[0]),
        ):
            port = int(address.rsplit(":", 1)[1])
            pid = await asyncio.to_thread(_pid_of_port_owner, port)
            if pid is not None:
                self.pids[name] = pid
        redis = Redis.from_url(self.redis_url)
        try:
            await load_seeds(redis)
            store = IntegrationStore(redis, Cipher.from_settings(self.settings("setup")))
            for tenant in tenants(self.tenant_count):
                await store.set(
                    tenant,
                    "whatsapp-business",
                    {
                        "phoneNumberId": PHONE_NUMBER_ID,
                        "accessToken": ACCESS_TOKEN,
                        "appSecret": APP_SECRET,
                        "verifyToken": "bench-verify",
                    },
                    is_default=True,
                )
        finally:
            await redis.aclose()
        sandbox = await self.start_sandbox()
        self.pids["sandbox"] = sandbox.pid

    # --- settings -------------------------------------------------------------------------

    def settings(self, scenario: str, **overrides: Any) -> Settings:
        """Settings of one scenario: its own app id and topics on the shared services."""
        suffix = f"{scenario}-{uuid.uuid4().hex[:8]}"
        values: dict[str, Any] = {
            "app_id": f"herald-bench-{suffix}",
            "kafka_bootstrap_servers": self.bootstrap or "127.0.0.1:9092",
            "redis_url": self.redis_url or "redis://127.0.0.1:6379/0",
            "secret_key": SecretStr(self.secret_key),
            "web_host": "127.0.0.1",
            "web_port": find_free_port(),
            "whatsapp_business_api_url": f"{self.sandbox_url}/{GRAPH_VERSION}",
            "rate_limits": NO_RATE_LIMIT,
            "log_level": "warning",  # the documented production level
            "broker_rebalance_timeout": 4.0,
            "broker_session_timeout": 6.0,
            "broker_heartbeat_interval": 1.0,
        }
        for name, model_field in Settings.model_fields.items():
            if name.startswith("topic_") and isinstance(model_field.default, str):
                values[name] = f"{model_field.default}.{suffix}"
        values["topic_retry_prefix"] = f"notifications.retry.{suffix}."
        values.update(overrides)
        return Settings(_env_file=None, **values)

    # --- processes ------------------------------------------------------------------------

    async def launch(
        self,
        name: str,
        argv: Sequence[str],
        settings: Settings | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> Process:
        aliases = set(settings_env_names().values())
        env = {k: v for k, v in os.environ.items() if k not in aliases}
        if settings is not None:
            env.update(settings_env(settings))
        env.update({"PYTHONUNBUFFERED": "1", **(extra_env or {})})
        log_path = self.workdir / f"{name}.log"
        proc = await spawn(list(argv), log_path=log_path, env=env, cwd=Path.cwd())
        process = Process(name, proc, log_path)
        self._processes.append(process)
        return process

    async def stop(self, process: Process) -> None:
        await process.stop()
        if process in self._processes:
            self._processes.remove(process)

    async def start_sandbox(self) -> Process:
        """The Graph API fake in its own process (so it does not share the bench's loop)."""
        port = find_free_port()
        argv = [
            sys.executable,
            "-m",
            "streams.cli.main",
            "sandbox",
            "whatsapp-business",
            "--port",
            str(port),
            "--phone-number-id",
            PHONE_NUMBER_ID,
            "--access-token",
            ACCESS_TOKEN,
            "--app-secret",
            APP_SECRET,
            "--auto-statuses",
            "",
        ]
        process = await self.launch("sandbox", argv, extra_env={"LOG_LEVEL": "warning"})
        self.sandbox_url = f"http://127.0.0.1:{port}"
        await wait_http(f"{self.sandbox_url}/_sandbox/accounts", process)
        return process

    async def sandbox_delay(self, seconds: float | None) -> None:
        """Delay every Graph API call by ``seconds`` (then answer normally); None: no delay."""
        async with httpx.AsyncClient(base_url=self.sandbox_url, trust_env=False) as client:
            (await client.delete("/_sandbox/faults")).raise_for_status()
            (await client.delete("/_sandbox/messages")).raise_for_status()
            if seconds:
                body = {"to": "*", "delaySeconds": seconds}
                (await client.post("/_sandbox/faults", json=body)).raise_for_status()

    async def start_worker(
        self,
        settings: Settings,
        role: str = "router",
        extra_env: Mapping[str, str] | None = None,
    ) -> Process:
        await ensure_topics(settings)
        argv = [sys.executable, "-m", "streams.cli.main", "worker"]
        if role != "router":
            argv.append(role)
        name = f"worker-{role}-{settings.app_id}"
        process = await self.launch(name, argv, settings, extra_env=extra_env)
        await wait_http(f"http://127.0.0.1:{settings.web_port}/health", process, timeout=90)
        return process


async def wait_http(url: str, process: Process, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Poll ``url`` until 200; raise with the process's log tail if it exits or times out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = "no answer"
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        while True:
            if not process.running:
                raise RuntimeError(
                    f"{process.name} exited with code {process.proc.returncode}; "
                    f"log {process.log_path}:\n{process.log_tail()}"
                )
            try:
                response = await client.get(url)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            if loop.time() >= deadline:
                raise TimeoutError(
                    f"{process.name} not ready within {timeout:g}s ({last}); "
                    f"log {process.log_path}:\n{process.log_tail()}"
                )
            await asyncio.sleep(0.1)
