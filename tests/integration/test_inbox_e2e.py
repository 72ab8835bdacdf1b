"""The in-app inbox end to end: a real worker process, the embedded broker, a real
redis-server and a real database (a SQLite file, then PostgreSQL), through HTTP.

One worker per backend; each test function walks the whole story, so that the suite
starts only two workers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis

from schemas import Settings
from seeds import load_seeds
from streams.tenancy import keys
from streams.tenancy.auth import TenantKeys
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from tests.helpers import WorkerProcess, consume_until, produce

pytestmark = pytest.mark.integration

Events = list[dict[str, Any]]


@dataclass
class Inbox:
    settings: Settings
    worker: WorkerProcess
    http: httpx.AsyncClient
    acme_key: str
    globex_key: str

    def request(
        self, user: str = "user-1", tenant: str = "acme", **overrides: Any
    ) -> dict[str, Any]:
        base: dict[str, Any] = {
            "id": f"n-{uuid.uuid4().hex[:10]}",
            "tenantId": tenant,
            "channel": "database",
            "recipient": {"userId": user},
            "content": {"subject": "Order shipped", "body": "Your order #1234 has shipped"},
            "metadata": {"orderId": 1234},
        }
        base.update(overrides)
        return base

    async def send(self, req: dict[str, Any]) -> None:
        key = req["tenantId"].encode()
        await produce(self.settings, self.settings.topic_requests, key, orjson.dumps(req))

    async def events(self, until: Callable[[Events], bool], timeout: float = 30) -> Events:  # noqa: ASYNC109
        def done(records: list[ConsumerRecord]) -> bool:
            return until([orjson.loads(r.value) for r in records])

        records = await consume_until(
            self.settings, self.settings.topic_status, done, timeout=timeout
        )
        return [orjson.loads(r.value) for r in records]

    async def settled(self) -> Events:
        """Every status event caused so far for tenant acme: a new request's ``sent`` comes
        after them all (one tenant, one partition), so absence is proven without sleeping."""
        marker = self.request(user="marker")
        await self.send(marker)
        return await self.events(lambda es: has(es, marker["id"], "sent"))

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.acme_key}"}


def has(events: Events, notification_id: str, *statuses: str) -> bool:
    seen = {e["status"] for e in events if e["notificationId"] == notification_id}
    return set(statuses) <= seen


def of(events: Events, notification_id: str) -> list[str]:
    return [e["status"] for e in events if e["notificationId"] == notification_id]


@pytest_asyncio.fixture
async def inbox(
    inbox_database_url: str,
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    redis: Redis,
) -> AsyncIterator[Inbox]:
    # PostgreSQL is not migrated by default: switching it on here also tests the worker's
    # migration at start (SQLite's default).
    settings = settings_factory(database_url=inbox_database_url, db_auto_migrate=True)
    await load_seeds(redis)
    tenant_keys = TenantKeys(redis)
    acme_key, _ = await tenant_keys.create("acme", "app")
    globex_key, _ = await tenant_keys.create("globex", "app")
    # globex switched the inbox off; acme has no integration at all (none is needed).
    store = IntegrationStore(redis, Cipher.from_settings(settings))
    await store.set("globex", "database", {}, is_active=False)
    worker = await worker_factory(settings)
    async with httpx.AsyncClient(base_url=worker.url, trust_env=False, timeout=10) as http:
        yield Inbox(settings, worker, http, acme_key, globex_key)


async def test_inbox_end_to_end(inbox: Inbox, redis: Redis) -> None:
    # 1. A request for channel `database` ends `sent`: stored in the user's inbox.
    first = inbox.request()
    await inbox.send(first)
    events = await inbox.events(lambda es: has(es, first["id"], "sent"))
    assert of(events, first["id"]) == ["accepted", "sent"]
    sent = next(e for e in events if e["notificationId"] == first["id"] and e["status"] == "sent")
    assert sent["provider"] == "database"
    assert sent["channel"] == "database"
    assert sent["metadata"] == {"orderId": 1234}
    assert sent["providerMessageId"]

    # 2. Tenant authentication.
    feed_url = "/inbox/acme/user-1"
    missing = await inbox.http.get(feed_url)
    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await inbox.http.get(feed_url, headers=inbox.auth("hrk_unknown"))).status_code == 401
    foreign = await inbox.http.get(feed_url, headers=inbox.auth(inbox.globex_key))
    assert foreign.status_code == 403
    assert foreign.json()["error"] == "forbidden"
    read_foreign = await inbox.http.post(
        f"{feed_url}/{first['id']}/read", headers={"X-Api-Key": inbox.globex_key}
    )
    assert read_foreign.status_code == 403

    feed = await inbox.http.get(feed_url, headers=inbox.auth())
    assert feed.status_code == 200
    assert feed.headers["Content-Type"].startswith("application/json")
    body = feed.json()
    assert body["unreadCount"] == 1
    assert body["nextCursor"] is None
    [item] = body["items"]
    assert item["notificationId"] == first["id"]
    assert item["userId"] == "user-1"
    assert item["subject"] == "Order shipped"
    assert item["body"] == "Your order #1234 has shipped"
    assert item["metadata"] == {"orderId": 1234}
    assert item["readAt"] is None
    assert (await inbox.http.get("/inbox/acme/user-2", headers=inbox.auth())).json()["items"] == []

    # 3. A duplicate request stores nothing and emits nothing.
    await inbox.send(first)
    settled = await inbox.settled()
    assert of(settled, first["id"]) == ["accepted", "sent"]
    assert len((await inbox.http.get(feed_url, headers=inbox.auth())).json()["items"]) == 1

    # 4. Reading emits `read` once.
    read = await inbox.http.post(f"{feed_url}/{first['id']}/read", headers=inbox.auth())
    assert read.status_code == 200
    assert read.json()["readAt"] is not None
    events = await inbox.events(lambda es: has(es, first["id"], "read"))
    read_event = next(
        e for e in events if e["notificationId"] == first["id"] and e["status"] == "read"
    )
    assert read_event["providerMessageId"] == sent["providerMessageId"]
    assert read_event["provider"] == "database"
    assert read_event["metadata"] == {"orderId": 1234}
    again = await inbox.http.post(f"{feed_url}/{first['id']}/read", headers=inbox.auth())
    assert again.status_code == 200
    assert again.json()["readAt"] == read.json()["readAt"]
    assert of(await inbox.settled(), first["id"]) == ["accepted", "sent", "read"]
    assert (await inbox.http.get(feed_url, headers=inbox.auth())).json()["unreadCount"] == 0

    # 5. Newest first, cursor pagination.
    more = [inbox.request() for _ in range(3)]
    for req in more:
        await inbox.send(req)
    await inbox.events(lambda es: all(has(es, r["id"], "sent") for r in more))
    page1 = (await inbox.http.get(feed_url, params={"limit": 2}, headers=inbox.auth())).json()
    assert [i["notificationId"] for i in page1["items"]] == [more[2]["id"], more[1]["id"]]
    assert page1["unreadCount"] == 3
    page2 = (
        await inbox.http.get(
            feed_url, params={"limit": 2, "cursor": page1["nextCursor"]}, headers=inbox.auth()
        )
    ).json()
    assert [i["notificationId"] for i in page2["items"]] == [more[0]["id"], first["id"]]
    assert page2["nextCursor"] is None
    for params in (
        {"cursor": "forged"},
        {"limit": "0"},
        {"limit": "101"},
        {"includeArchived": "x"},
    ):
        bad = await inbox.http.get(feed_url, params=params, headers=inbox.auth())
        assert bad.status_code == 400, params
        assert bad.json()["error"] in {"invalid_cursor", "invalid_parameter"}

    # 6. Archive: out of the default feed and the unread count, still listed on request.
    archived = await inbox.http.post(f"{feed_url}/{more[1]['id']}/archive", headers=inbox.auth())
    assert archived.status_code == 200
    assert archived.json()["archivedAt"] is not None
    feed = (await inbox.http.get(feed_url, headers=inbox.auth())).json()
    assert more[1]["id"] not in [i["notificationId"] for i in feed["items"]]
    assert feed["unreadCount"] == 2
    everything = await inbox.http.get(
        feed_url, params={"includeArchived": "true"}, headers=inbox.auth()
    )
    assert more[1]["id"] in [i["notificationId"] for i in everything.json()["items"]]

    # 7. Delete, and 404 for what is not (or no longer) there.
    item_url = f"{feed_url}/{more[0]['id']}"
    assert (await inbox.http.get(item_url, headers=inbox.auth())).status_code == 200
    assert (await inbox.http.delete(item_url, headers=inbox.auth())).status_code == 204
    for method, url in [
        ("GET", item_url),
        ("DELETE", item_url),
        ("POST", f"{item_url}/read"),
        ("POST", f"{item_url}/archive"),
        ("POST", f"/inbox/acme/user-2/{first['id']}/read"),  # not this user's
    ]:
        gone = await inbox.http.request(method, url, headers=inbox.auth())
        assert gone.status_code == 404, (method, url)
        assert gone.json()["error"] == "not_found"

    # 8. Read after Redis forgot the notification (past the idempotency TTL): the row says
    # it is the first read, and the event is built from it.
    late = more[2]
    await redis.delete(keys.notification("acme", late["id"]))
    assert (
        await inbox.http.post(f"{feed_url}/{late['id']}/read", headers=inbox.auth())
    ).status_code == 200
    events = await inbox.events(lambda es: has(es, late["id"], "read"))
    [late_read] = [e for e in events if e["notificationId"] == late["id"] and e["status"] == "read"]
    assert late_read["provider"] == "database"
    assert late_read["metadata"] == {"orderId": 1234}

    # 9. What the inbox refuses: no userId; a tenant that switched the inbox off.
    no_user = inbox.request(recipient={"phone": "+5511999990000"})
    off = inbox.request(tenant="globex")
    await inbox.send(no_user)
    await inbox.send(off)
    events = await inbox.events(
        lambda es: has(es, no_user["id"], "rejected") and has(es, off["id"], "rejected")
    )
    rejected = {e["notificationId"]: e for e in events if e["status"] == "rejected"}
    assert rejected[no_user["id"]]["error"]["code"] == "invalid_recipient"
    assert rejected[off["id"]]["error"]["code"] == "no_integration"
