"""The session endpoints' logic against a real redis-server (no broker, no browser)."""

from __future__ import annotations

import orjson
import pytest
from redis.asyncio import Redis

from providers.wppconnect import render_qr
from schemas.whatsapp import CommandName, SessionCommand
from streams.whatsapp import SessionEndpoints
from streams.whatsapp.store import qr_ref
from tests.integration.whatsapp.endpoints import bearer, keyed_endpoints, worker_store

pytestmark = pytest.mark.integration


async def setup(
    redis: Redis, per_minute: float = 60.0
) -> tuple[SessionEndpoints, dict[str, str], list[SessionCommand]]:
    sent: list[SessionCommand] = []

    async def produce(command: SessionCommand) -> None:
        sent.append(command)

    endpoints, created = await keyed_endpoints(
        redis, worker_store(redis), produce, qr_reads_per_minute=per_minute
    )
    return endpoints, created, sent


async def test_reads_need_the_tenants_own_key(redis: Redis) -> None:
    endpoints, keys, _ = await setup(redis)
    store = endpoints.store
    qr = render_qr("2@ref,a,b,c", attempts=1, ttl_ms=60000)
    await store.put_qr("acme", qr, 60000)
    await store.record_status("acme", "tenant-acme", "inChat", phone="5511988887777")
    await store.record_state("acme", "tenant-acme", "CONNECTED")

    for call in (endpoints.qr, endpoints.session):
        assert (await call("acme", {})).status == 401
        assert (await call("acme", bearer("hrk_unknown"))).status == 401
        forbidden = await call("acme", bearer(keys["globex"]))
        assert forbidden.status == 403
        assert "another tenant" in forbidden.body
        assert (await call("acme", {"X-Api-Key": keys["acme"]})).status == 200
    assert (await endpoints.qr("acme", {})).headers.get("WWW-Authenticate")

    answer = await endpoints.qr("acme", bearer(keys["acme"]))
    served = orjson.loads(answer.body)
    assert served.pop("qrRef") == qr_ref(qr.url_code)  # matches the whatsapp.qr event's
    assert served == qr.model_dump(by_alias=True, mode="json")
    view = orjson.loads((await endpoints.session("acme", bearer(keys["acme"]))).body)
    assert (view["status"], view["state"], view["phone"]) == (
        "inChat",
        "CONNECTED",
        "5511988887777",
    )
    assert view["since"]
    assert view["stateSince"]
    # Not logged in: no phone.
    await store.record_status("acme", "tenant-acme", "browserClose", detail="disconnect")
    view = orjson.loads((await endpoints.session("acme", bearer(keys["acme"]))).body)
    assert view["status"] == "browserClose"
    assert "phone" not in view

    assert (await endpoints.qr("globex", bearer(keys["globex"]))).status == 404
    assert (await endpoints.session("globex", bearer(keys["globex"]))).status == 404
    assert (await endpoints.qr("bad/tenant", bearer(keys["acme"]))).status == 400


async def test_commands_are_produced_for_the_owner(redis: Redis) -> None:
    endpoints, keys, sent = await setup(redis)
    assert (await endpoints.command("acme", CommandName.DISCONNECT, {})).status == 401
    assert (
        await endpoints.command("acme", CommandName.DISCONNECT, bearer(keys["globex"]))
    ).status == 403
    assert sent == []
    answer = await endpoints.command("acme", CommandName.DISCONNECT, bearer(keys["acme"]))
    assert answer.status == 202
    [command] = sent
    assert (command.tenant_id, command.command) == ("acme", CommandName.DISCONNECT)


async def test_qr_reads_are_rate_limited_per_tenant(redis: Redis) -> None:
    endpoints, keys, _ = await setup(redis, per_minute=6)
    await endpoints.store.put_qr("acme", render_qr("2@r,a,b,c", attempts=1, ttl_ms=60000), 60000)
    statuses = [(await endpoints.qr("acme", bearer(keys["acme"]))).status for _ in range(5)]
    assert statuses == [200] * 5  # the burst
    limited = await endpoints.qr("acme", bearer(keys["acme"]))
    assert limited.status == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    # Another tenant has its own budget; a refused key spends none.
    assert (await endpoints.qr("globex", bearer(keys["globex"]))).status == 404
    assert (await endpoints.qr("globex", bearer(keys["acme"]))).status == 403
