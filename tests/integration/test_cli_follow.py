"""``herald send --wait``, ``status``, ``tail`` and ``doctor`` against the embedded stack.

The CLI runs in-process (``main(argv)``) with the test's settings as environment
variables, except where a signal is the point (Ctrl-C on ``herald tail``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from schemas import StatusEvent
from schemas.settings import Settings
from schemas.status import Status
from streams.cli.main import main
from tests.helpers import (
    herald_executable,
    kept_root_logging,
    new_secret_key,
    produce,
    settings_env,
)
from tests.integration.conftest import KafkaTopics, WorkerFactory

pytestmark = pytest.mark.integration

TWILIO = {
    "accountSid": "AC" + "0" * 32,
    "authToken": "cli-doctor-token-93",
    "fromPhone": "+15550001111",
}


@pytest.fixture(autouse=True)
def quiet_logging() -> Iterator[None]:
    with kept_root_logging():
        yield


def use(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the in-process CLI at ``settings`` (environment only, no ``.env``)."""
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``herald *argv`` in a thread (it runs its own event loop): exit code, stdout, stderr."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def events(out: str) -> list[tuple[str, str]]:
    return [(e["notificationId"], e["status"]) for e in map(json.loads, out.splitlines())]


async def test_send_wait_status_and_tail(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings_factory: Callable[..., Settings],
    worker_factory: WorkerFactory,
    tmp_path: Path,
) -> None:
    settings = settings_factory(database_url=f"sqlite+aiosqlite:///{tmp_path}/inbox.db")
    use(monkeypatch, settings)
    tenant = f"cli-{uuid.uuid4().hex[:6]}"
    assert (await run(capsys, "seed"))[0] == 0
    await worker_factory(settings)

    async def send(*argv: str) -> tuple[int, str, str]:
        return await run(capsys, "send", "--tenant", tenant, "--wait", "--timeout", "60", *argv)

    code, out, err = await send(
        "--id", "inbox-1", "--channel", "database", "--user-id", "u1", "--body", "hi",
        "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert events(out) == [("inbox-1", "accepted"), ("inbox-1", "sent")]
    sent = StatusEvent.model_validate_json(out.splitlines()[-1])

    code, out, _ = await send(
        "--id", "sms-1", "--channel", "sms", "--to", "+15550001111", "--body", "hi"
    )
    assert code == 1
    first, line = out.splitlines()
    assert first == "sms-1"
    assert line.split()[1:4] == ["rejected", tenant, "sms-1"]
    assert "error no_integration" in line

    # A status event produced twice (as after a worker crash) is shown once by tail.
    await produce(settings, settings.topic_status, tenant, sent)
    code, out, _ = await send(
        "--id", "inbox-2", "--channel", "database", "--user-id", "u1", "--body", "2nd",
        "--json",
    )  # fmt: skip
    assert code == 0

    code, out, _ = await run(
        capsys, "tail", "--tenant", tenant, "--from-beginning", "--json", "--count", "5"
    )
    assert code == 0
    assert events(out) == [
        ("inbox-1", "accepted"),
        ("inbox-1", "sent"),
        ("sms-1", "rejected"),
        ("inbox-2", "accepted"),
        ("inbox-2", "sent"),
    ]
    code, out, _ = await run(
        capsys, "tail", "--from-beginning", "--status", "rejected", "--count", "1"
    )
    assert code == 0
    assert out.split()[1:4] == ["rejected", tenant, "sms-1"]

    code, out, _ = await run(capsys, "status", "--tenant", tenant, "--id", "inbox-1", "--json")
    assert code == 0
    state = json.loads(out)
    assert state["phase"] == "sent"
    assert state["status"] == "sent"
    assert state["provider"] == "database"
    assert state["providerMessageId"] == sent.provider_message_id
    assert state["attempts"] == 1
    code, out, _ = await run(capsys, "status", "--tenant", tenant, "--id", "sms-1")
    assert code == 0
    assert out.splitlines()[1].split() == ["phase", "rejected"]
    assert any(
        line.split()[:3] == ["last", "error", "no_integration:"] for line in out.splitlines()
    )
    code, out, _ = await run(capsys, "status", "--tenant", tenant, "--id", "sms-1", "--json")
    rejected = json.loads(out)
    assert rejected["lastError"]["code"] == "no_integration"
    assert rejected["updatedAt"]  # when it was rejected
    code, _, err = await run(capsys, "status", "--tenant", tenant, "--id", "never-sent")
    assert code == 1
    assert "holds no state for notification 'never-sent'" in err


async def test_send_wait_times_out_without_a_worker(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings_factory: Callable[..., Settings],
) -> None:
    use(monkeypatch, settings_factory())
    code, out, err = await run(
        capsys, "send", "--tenant", "acme", "--id", "lonely", "--to", "+15550001111",
        "--body", "hi", "--wait", "--timeout", "1",
    )  # fmt: skip
    assert code == 4
    assert out == "lonely\n"
    assert "no final status for lonely within 1s" in err
    assert "herald status --tenant acme --id lonely" in err


async def test_tail_ends_cleanly_on_ctrl_c(
    settings_factory: Callable[..., Settings], kafka_topics: KafkaTopics, tmp_path: Path
) -> None:
    settings = await kafka_topics(settings_factory())
    env = {**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        herald_executable(), "tail", "--json",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stderr is not None
    event = StatusEvent(notification_id="n-1", tenant_id="acme", status=Status.ACCEPTED)
    line = b""
    async with asyncio.timeout(60):
        while not line:  # until tail has started reading: it prints what it reads
            await produce(settings, settings.topic_status, "acme", event)
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), 1.0)
            except TimeoutError:
                continue
        assert json.loads(line)["eventId"] == event.event_id
        proc.send_signal(signal.SIGINT)
        code = await proc.wait()
    err = (await proc.stderr.read()).decode()
    assert code == 0, err
    assert "Traceback" not in err
    rest = (await proc.stdout.read()).decode()
    assert rest == ""  # the same event again and again: de-duplicated


async def test_doctor_on_the_embedded_stack(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings_factory: Callable[..., Settings],
    kafka_topics: KafkaTopics,
    redis: aioredis.Redis,
    tmp_path: Path,
) -> None:
    del redis  # flushed around the test
    settings = await kafka_topics(
        settings_factory(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/inbox.db", wppconnect_enabled=True
        )
    )
    use(monkeypatch, settings)
    assert (await run(capsys, "seed"))[0] == 0
    assert (await run(capsys, "db", "upgrade"))[0] == 0
    creds = json.dumps(TWILIO)
    for tenant in ("good", "stale"):
        argv = ["integrations", "set", "--tenant", tenant, "--provider", "twilio"]
        if tenant == "stale":
            monkeypatch.setenv("HERALD_SECRET_KEY", new_secret_key())
        assert (await run(capsys, *argv, "--credentials", creds))[0] == 0
    use(monkeypatch, settings)  # back to the settings' key: "stale" is under another one

    code, out, err = await run(capsys, "doctor", "--json")
    assert "cli-doctor-token-93" not in out + err
    report = json.loads(out)
    checks = {c["name"]: c for c in report["checks"]}
    assert {n: c["outcome"] for n, c in checks.items()} == {
        "kafka": "ok",
        "redis": "ok",
        "redis storage": "warn",  # the embedded Redis is diskless
        "secret key": "fail",
        "seed data": "ok",
        "inbox database": "ok",
        "wa-js": "ok",
        "chromium": "ok",
    }
    assert code == 1
    assert report["ok"] is False
    assert checks["kafka"]["details"]["partitions"] == {
        t: settings.topic_partitions for t in settings.all_topics
    }
    assert "stale/twilio" in checks["secret key"]["summary"]
    assert "good/twilio" not in checks["secret key"]["summary"]
    assert "no persistence" in checks["redis storage"]["summary"]

    assert (
        await run(capsys, "integrations", "remove", "--tenant", "stale", "--provider", "twilio")
    )[0] == 0
    monkeypatch.setenv("WHATSAPP_WPPCONNECT_ENABLED", "false")
    code, out, _ = await run(capsys, "doctor")
    assert code == 0, out
    assert out.splitlines()[0].startswith("✓ kafka")
    assert "✓ secret key      set" in out
    assert "decrypts all 1 stored integrations" in out
