"""The TypeScript client's tests (Node's own runner) against the embedded broker and a
real worker: this test starts the stack and runs them, and fails unless all ran and passed."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from schemas import Settings
from schemas.clientgen import ROOT
from seeds import load_seeds

pytestmark = pytest.mark.integration

PACKAGE = ROOT / "clients/typescript"


async def run(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:  # noqa: ASYNC109
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=PACKAGE,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(timeout):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode(errors="replace")


async def test_typescript_client_suite(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    redis: Redis,
) -> None:
    node = shutil.which("node")
    assert node, "node is required (scripts/bootstrap.sh installs it)"
    assert (PACKAGE / "node_modules/@platformatic/kafka").is_dir(), (
        "run scripts/bootstrap.sh (npm ci in clients/typescript)"
    )
    code, version = await run([node, "--version"], dict(os.environ), 30)
    major, minor = (int(x) for x in version.strip().lstrip("v").split(".")[:2])
    assert (major, minor) >= (20, 19), f"@platformatic/kafka needs Node 20.19+, found {version}"
    settings = settings_factory()
    await load_seeds(redis)
    await worker_factory(settings)
    env = {
        **os.environ,
        "HERALD_TEST_BOOTSTRAP": settings.kafka_bootstrap_servers,
        "HERALD_TEST_REQUESTS_TOPIC": settings.topic_requests,
        "HERALD_TEST_STATUS_TOPIC": settings.topic_status,
    }
    code, out = await run([node, "node_modules/typescript/bin/tsc", "-p", "."], env, 180)
    assert code == 0, out
    code, out = await run([node, "--test", "--test-reporter=tap", "dist/test/"], env, 240)
    assert code == 0, out

    def count(name: str) -> int:
        match = re.search(rf"^# {name} (\d+)$", out, re.MULTILINE)
        assert match, out
        return int(match.group(1))

    assert count("fail") == 0, out
    assert count("skipped") == 0, out  # the integration test must run, not skip
    assert count("pass") >= 9, out  # unit (6), trace (2), integration (1)
