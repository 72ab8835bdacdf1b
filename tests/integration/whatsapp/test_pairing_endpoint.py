"""The pairing-code endpoint's logic against a real redis-server (no broker, no browser).

The owning worker is played by a task that reads the produced command and leaves its
answer where the worker would (``SessionStore.put_link_result``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson
import pytest
from redis.asyncio import Redis

from schemas.whatsapp import CommandName, SessionCommand
from streams.tenancy.auth import Scope, TenantKeys
from streams.whatsapp import SessionEndpoints
from streams.whatsapp.naming import SessionRef
from streams.whatsapp.store import pairing_key
from tests.integration.whatsapp.endpoints import bearer, keyed_endpoints, worker_store

pytestmark = pytest.mark.integration

Worker = Callable[[SessionCommand], Awaitable[dict[str, object] | None]]
PHONE = {"phone": "+55 (11) 99999-0001"}


def body(value: object) -> bytes:
    return orjson.dumps(value)


async def setup(
    redis: Redis, worker: Worker, *, wait: float = 5.0
) -> tuple[SessionEndpoints, dict[str, str], list[SessionCommand]]:
    store = worker_store(redis)
    sent: list[SessionCommand] = []
    tasks: set[asyncio.Task[None]] = set()

    async def answer(command: SessionCommand) -> None:
        result = await worker(command)
        if result is not None and command.request_id:
            await store.put_link_result(command.tenant_id, command.request_id, result)

    async def produce(command: SessionCommand) -> None:
        sent.append(command)
        task = asyncio.create_task(answer(command))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    endpoints, created = await keyed_endpoints(redis, store, produce, pairing_timeout=wait)
    return endpoints, created, sent


async def linking(command: SessionCommand) -> dict[str, object]:
    await asyncio.sleep(0)  # the answer lands after the endpoint started waiting
    return {"pairingCode": "ABCD-EFGH", "expiresAt": "2026-12-02T12:03:00+00:00"}


async def test_a_code_for_the_tenants_phone(redis: Redis) -> None:
    endpoints, keys, sent = await setup(redis, linking)
    answer = await endpoints.pairing_code("acme", bearer(keys["acme"]), body(PHONE))
    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert orjson.loads(answer.body) == {
        "pairingCode": "ABCD-EFGH",
        "expiresAt": "2026-12-02T12:03:00+00:00",
    }
    [command] = sent
    assert (command.tenant_id, command.command, command.phone) == (
        "acme",
        CommandName.PAIRING_CODE,
        "5511999990001",
    )
    # The answer is read once.
    assert command.request_id is not None
    assert await redis.exists(pairing_key("acme", command.request_id)) == 0


async def test_answers_are_kept_encrypted_and_bound_to_their_request(redis: Redis) -> None:
    endpoints, _, _ = await setup(redis, linking)
    store = endpoints.store
    await store.put_link_result("acme", "req-00000001", {"pairingCode": "WXYZ-1234"})
    raw = await redis.get(pairing_key("acme", "req-00000001"))
    assert raw is not None
    assert b"WXYZ" not in raw
    assert 0 < await redis.pttl(pairing_key("acme", "req-00000001")) <= 120_000
    # Copied under another request (or tenant), it does not decrypt.
    await redis.set(pairing_key("globex", "req-00000002"), raw)
    stolen = await store.take_link_result("globex", "req-00000002")
    assert stolen is not None
    assert "pairingCode" not in stolen
    assert await store.take_link_result("acme", "req-00000001") == {"pairingCode": "WXYZ-1234"}


async def test_the_guard_is_the_other_session_endpoints(redis: Redis) -> None:
    endpoints, keys, sent = await setup(redis, linking)
    assert (await endpoints.pairing_code("acme", {}, body(PHONE))).status == 401
    unknown = await endpoints.pairing_code("acme", bearer("hrk_unknown"), body(PHONE))
    assert unknown.status == 401
    assert unknown.headers.get("WWW-Authenticate")
    other = await endpoints.pairing_code("acme", bearer(keys["globex"]), body(PHONE))
    assert other.status == 403
    inbox_only = (await TenantKeys(redis).create("acme", scopes={Scope.INBOX}))[0]
    assert (await endpoints.pairing_code("acme", bearer(inbox_only), body(PHONE))).status == 403
    assert (await endpoints.pairing_code("../x", bearer(keys["acme"]), body(PHONE))).status == 400
    assert sent == []  # nothing reached a worker


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1]",
        body({"number": "5511999990001"}),
        body({"phone": 5511999990001}),
        body({"phone": "12"}),
        body({"phone": "+0 11 99999-0001"}),
        body({"phone": "5511999990001; DROP"}),
    ],
)
async def test_a_body_without_a_phone_number_is_400(redis: Redis, raw: bytes) -> None:
    endpoints, keys, sent = await setup(redis, linking)
    assert (await endpoints.pairing_code("acme", bearer(keys["acme"]), raw)).status == 400
    assert sent == []


async def test_a_body_too_large_is_413(redis: Redis) -> None:
    endpoints, keys, _ = await setup(redis, linking)
    huge = body({"phone": "5511999990001", "pad": "x" * 5000})
    assert (await endpoints.pairing_code("acme", bearer(keys["acme"]), huge)).status == 413
    assert (await endpoints.pairing_code("acme", bearer(keys["acme"]), None)).status == 413


async def test_requests_are_rate_limited_per_tenant(redis: Redis) -> None:
    endpoints, keys, sent = await setup(redis, linking)
    statuses = [
        (await endpoints.pairing_code("acme", bearer(keys["acme"]), body(PHONE))).status
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = await endpoints.pairing_code("acme", bearer(keys["acme"]), body(PHONE))
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    assert len(sent) == 3
    assert (
        await endpoints.pairing_code("globex", bearer(keys["globex"]), body(PHONE))
    ).status == 200


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        ({"code": "already_linked", "message": "linked", "retryable": False}, 409, None),
        ({"code": "invalid_phone", "message": "no", "retryable": False}, 400, None),
        ({"code": "no_integration", "message": "none", "retryable": False}, 409, None),
        (
            {"code": "session_limit", "message": "full", "retryable": True, "retryAfter": 5.0},
            503,
            "5",
        ),
        ({"code": "link_code_unavailable", "message": "slow", "retryable": True}, 503, "5"),
    ],
)
async def test_the_workers_refusals(
    redis: Redis, error: dict[str, object], status: int, retry_after: str | None
) -> None:
    async def refusing(command: SessionCommand) -> dict[str, object]:
        return {"error": error}

    endpoints, keys, _ = await setup(redis, refusing)
    answer = await endpoints.pairing_code("acme", bearer(keys["acme"]), body(PHONE))
    assert answer.status == status
    assert orjson.loads(answer.body) == {"error": error["message"], "code": error["code"]}
    assert answer.headers.get("Retry-After") == retry_after


async def test_no_worker_answering_is_504(redis: Redis) -> None:
    async def silent(command: SessionCommand) -> None:
        return None

    endpoints, keys, sent = await setup(redis, silent, wait=0.3)
    answer = await endpoints.pairing_code("acme", bearer(keys["acme"]), body(PHONE))
    assert answer.status == 504
    assert len(sent) == 1


async def test_the_session_parameter_selects_one_of_the_tenants_sessions(redis: Redis) -> None:
    endpoints, keys, sent = await setup(redis, linking)
    assert (
        await endpoints.pairing_code("acme", bearer(keys["acme"]), body(PHONE), "sales")
    ).status == 404  # no selector: only the tenant's first session exists

    async def select(tenant: str, name: str | None) -> SessionRef:
        return SessionRef(tenant_id=tenant, session_name=name or "support", sid=f"{tenant}-x")

    endpoints.select = select
    answer = await endpoints.pairing_code("acme", bearer(keys["acme"]), body(PHONE), "sales")
    assert answer.status == 200
    assert [c.session_name for c in sent] == ["sales"]
