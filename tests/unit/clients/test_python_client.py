"""herald_client without a broker: the wire copies, installability, wait semantics."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from importlib.metadata import requires
from pathlib import Path
from typing import Any

import herald_client
import pytest
from herald_client import (
    HeraldClient,
    InvalidRequestError,
    NotificationFailed,
    NotificationHandle,
    NotificationRejected,
    RecentIds,
    Status,
)
from packaging.requirements import Requirement
from pydantic import BaseModel, ValidationError

import schemas
from schemas.clientgen import ROOT, python_wire_files


def test_generated_wire_models_are_current() -> None:
    for rel, text in python_wire_files().items():
        assert (ROOT / rel).read_text() == text, (
            f"{rel} is stale: run `python scripts/gen_clients.py`"
        )


PAIRS = ["NotificationRequest", "StatusEvent", "ErrorInfo", "Recipient", "Content", "Media"]


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_client_models_have_the_workers_schema(name: str, mode: Any) -> None:
    ours: type[BaseModel] = getattr(herald_client, name)
    theirs: type[BaseModel] = getattr(schemas, name)
    assert ours is not theirs
    assert ours.model_json_schema(by_alias=True, mode=mode) == theirs.model_json_schema(
        by_alias=True, mode=mode
    )


SAMPLES: list[dict[str, Any]] = [
    {"id": "a", "tenantId": "acme", "channel": "email", "recipient": {"email": "x@example.com"}},
    {"id": "b", "tenantId": "acme", "channel": "sms", "recipient": {}},  # no address
    {"id": "c", "tenantId": "ac me", "channel": "sms", "recipient": {"phone": "+1"}},  # tenant
    {
        "id": "d",
        "tenantId": "acme",
        "channel": "whatsapp",
        "recipient": {"phone": "+1"},
        "content": {"media": {"url": "https://x/y.png", "base64": "AAAA"}},  # two sources
    },
    {"id": "", "tenantId": "acme", "channel": "fcm", "recipient": {"deviceToken": "t"}},
    {"id": "f", "tenantId": "acme", "channel": "pigeon", "recipient": {"userId": "u"}},
]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s["id"] or "empty-id")
def test_client_validates_like_the_worker(sample: dict[str, Any]) -> None:
    def outcome(model: type[BaseModel]) -> Any:
        try:
            return model.model_validate(sample).model_dump(mode="json")
        except ValidationError as exc:
            return sorted((e["loc"], e["type"]) for e in exc.errors())

    assert outcome(herald_client.NotificationRequest) == outcome(schemas.NotificationRequest)


def test_event_ids_agree_with_the_worker() -> None:
    raw = {"notificationId": "n1", "tenantId": "acme", "status": "sent", "attempt": 2}
    assert (
        herald_client.StatusEvent.model_validate(raw).event_id
        == schemas.StatusEvent.model_validate(raw).event_id
    )


def test_distribution_depends_only_on_what_a_producer_needs() -> None:
    reqs = [Requirement(r) for r in requires("herald-client") or []]
    core = {r.name.lower() for r in reqs if r.marker is None}
    assert core <= {"aiokafka", "pydantic", "orjson"}
    assert {"aiokafka", "pydantic"} <= core


def test_imports_nothing_of_herald(tmp_path: Path) -> None:
    """Import and use the client with Herald's packages and heavy dependencies blocked."""
    script = textwrap.dedent(
        """
        import sys
        from importlib.abc import MetaPathFinder

        BLOCKED = {"schemas", "streams", "providers", "sandbox", "seeds", "faust", "mode",
                   "playwright", "botocore", "redis", "httpx", "sqlalchemy", "opentelemetry"}

        class Block(MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked: {name}")
                return None

        sys.meta_path.insert(0, Block())
        import herald_client
        from herald_client._trace import producer_span

        req = herald_client.NotificationRequest.model_validate(
            {"id": "n1", "tenantId": "acme", "channel": "sms", "recipient": {"phone": "+1"}}
        )
        herald_client.HeraldClient("127.0.0.1:1")
        with producer_span("t", "acme", "n1") as headers:
            assert headers == [], headers
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not leaked, leaked
        print(req.to_json().decode())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert '"tenantId":"acme"' in result.stdout


def event(status: str, **extra: Any) -> herald_client.StatusEvent:
    return herald_client.StatusEvent.model_validate(
        {"notificationId": "n1", "tenantId": "acme", "status": status, **extra}
    )


def handle() -> NotificationHandle:
    return NotificationHandle(
        herald_client.NotificationRequest.model_validate(
            {"id": "n1", "tenantId": "acme", "channel": "sms", "recipient": {"phone": "+1"}}
        )
    )


async def test_wait_returns_the_first_event_at_or_past_the_status() -> None:
    h = handle()
    waiter = asyncio.create_task(h.wait("sent", timeout=5))
    h._deliver(event("accepted"))
    await asyncio.sleep(0)
    assert not waiter.done()
    h._deliver(event("delivered", attempt=1))  # `sent` skipped (e.g. a late webhook)
    assert (await waiter).status == Status.DELIVERED
    # Later waits see the events already received.
    assert (await h.wait("accepted", timeout=0)).status == Status.ACCEPTED
    assert (await h.wait(Status.RETRYING, timeout=0)).status == Status.DELIVERED


async def test_wait_raises_with_the_event_on_failed_or_rejected() -> None:
    h = handle()
    h._deliver(event("accepted"))
    h._deliver(event("retrying", attempt=1, error={"code": "provider_timeout", "message": "t"}))
    h._deliver(event("failed", attempt=3, error={"code": "provider_error", "message": "no"}))
    with pytest.raises(NotificationFailed) as failed:
        await h.wait("sent", timeout=1)
    assert failed.value.event.status == Status.FAILED
    assert failed.value.code == "provider_error"
    assert (await h.wait("failed", timeout=0)).attempt == 3

    r = handle()
    r._deliver(event("rejected", error={"code": "unknown_provider", "message": "x"}))
    with pytest.raises(NotificationRejected) as rejected:
        await r.wait("accepted", timeout=1)
    assert rejected.value.code == "unknown_provider"
    with pytest.raises(NotificationRejected):
        await r.wait("failed", timeout=1)


async def test_wait_times_out_and_duplicates_are_dropped() -> None:
    h = handle()
    h._deliver(event("accepted"))
    h._deliver(event("accepted"))  # at-least-once repeat: same eventId
    with pytest.raises(TimeoutError):
        await h.wait("sent", timeout=0.05)
    assert [e.status for e in h.received] == [Status.ACCEPTED]


async def test_events_iterates_until_a_final_status() -> None:
    h = handle()
    for status in ("accepted", "sent", "delivered", "read"):
        h._deliver(event(status, attempt=1))
    h._deliver(event("delivered", attempt=1))  # repeat after the end: not yielded
    seen = [e.status.value async for e in h.events()]
    assert seen == ["accepted", "sent", "delivered", "read"]


def test_recent_ids_forget_the_oldest() -> None:
    recent = RecentIds(capacity=2)
    assert recent.first_time("a")
    assert recent.first_time("b")
    assert not recent.first_time("a")  # refreshes a
    assert recent.first_time("c")  # evicts b
    assert len(recent) == 2
    assert recent.first_time("b")
    assert not recent.first_time("c")


async def test_send_validates_before_any_io() -> None:
    client = HeraldClient("127.0.0.1:1")  # never started: validation comes first
    with pytest.raises(InvalidRequestError) as err:
        await client.send({"id": "x", "tenantId": "acme", "channel": "sms", "recipient": {}})
    assert err.value.errors[0]["loc"] == ("recipient",)
    assert "input" not in err.value.errors[0]
    assert isinstance(err.value, ValueError)


async def test_waiting_handles_are_released_when_the_reader_stops() -> None:
    h = handle()
    h._deliver(event("accepted"))
    waiter = asyncio.create_task(h.wait("sent", timeout=5))
    await asyncio.sleep(0)
    h._fail(ConnectionError("broker gone"))
    with pytest.raises(herald_client.HeraldClientError, match="broker gone"):
        await waiter
