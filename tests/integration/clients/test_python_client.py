"""herald_client against the embedded broker, a real redis-server and a real worker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from herald_client import (
    Channel,
    Content,
    HeraldClient,
    NotificationRejected,
    NotificationRequest,
    Recipient,
    Status,
    StatusEvent,
)
from redis.asyncio import Redis

from schemas import Settings
from seeds import load_seeds
from streams.tenancy.auth import TenantKeys
from tests.helpers import produce

pytestmark = pytest.mark.integration


def inbox_request(tenant: str = "acme", **overrides: Any) -> dict[str, Any]:
    return {
        "id": f"n-{uuid.uuid4().hex[:10]}",
        "tenantId": tenant,
        "channel": "database",
        "recipient": {"userId": "user-1"},
        "content": {"subject": "Order shipped", "body": "Your order #1234 has shipped"},
        "metadata": {"orderId": 1234},
        **overrides,
    }


async def test_send_wait_events_and_statuses(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    redis: Redis,
) -> None:
    settings = settings_factory()
    await load_seeds(redis)
    api_key, _ = await TenantKeys(redis).create("acme", "app")
    worker = await worker_factory(settings)
    client = HeraldClient(
        settings.kafka_bootstrap_servers,
        requests_topic=settings.topic_requests,
        status_topic=settings.topic_status,
        # The embedded broker holds a new group's join for the whole rebalance timeout
        # (aiokafka's default: max_poll_interval_ms, 5 minutes).
        consumer_options={
            "session_timeout_ms": 6000,
            "heartbeat_interval_ms": 1000,
            "rebalance_timeout_ms": 4000,
        },
    )
    async with client:
        # 1. A dict in, the `sent` event out: delivered to the inbox by the database provider.
        first = await client.send(inbox_request())
        assert first.partition is not None
        sent = await first.wait("sent", timeout=60)
        assert isinstance(sent, StatusEvent)
        assert (sent.status, sent.provider, sent.channel) == (Status.SENT, "database", "database")
        assert sent.metadata == {"orderId": 1234}
        assert [e.status for e in first.received] == [Status.ACCEPTED, Status.SENT]

        # 2. A model in; reading it in the inbox emits `read`, which ends `events()`.
        model = NotificationRequest(
            id=f"n-{uuid.uuid4().hex[:10]}",
            tenant_id="acme",
            channel=Channel.DATABASE,
            recipient=Recipient(user_id="user-2"),
            content=Content(body="Your invoice is ready"),
        )
        second = await client.send(model)
        await second.wait(Status.SENT, timeout=60)
        async with httpx.AsyncClient(base_url=worker.url, trust_env=False, timeout=10) as http:
            answer = await http.post(
                f"/inbox/acme/user-2/{model.id}/read",
                headers={"Authorization": f"Bearer {api_key}"},
            )
            assert answer.status_code == 200, answer.text
        statuses = [e.status.value async for e in second.events()]
        assert statuses == ["accepted", "sent", "read"]

        # 3. Herald refuses a provider it does not know: a typed error carrying the event.
        refused = await client.send(inbox_request(provider="no-such-provider"))
        with pytest.raises(NotificationRejected) as rejected:
            await refused.wait("sent", timeout=60)
        assert rejected.value.event.notification_id == refused.notification_id
        assert rejected.value.code == "unknown_provider"

        # 4. statuses(): one tenant's events, typed, once per eventId. A repeated `sent`
        # (at-least-once after a crash) is dropped; another tenant's events are not shown.
        await produce(settings, settings.topic_status, "acme", sent.to_json())
        other = await client.send(inbox_request(tenant="globex"))
        await other.wait("sent", timeout=60)
        marker = await client.send(inbox_request())
        await marker.wait("sent", timeout=60)
        seen: list[StatusEvent] = []
        async with (
            asyncio.timeout(60),
            contextlib.aclosing(client.statuses("acme", from_beginning=True)) as stream,
        ):
            async for event in stream:
                seen.append(event)
                if event.notification_id == marker.notification_id and event.status == "sent":
                    break
        ids = [e.event_id for e in seen]
        assert len(ids) == len(set(ids))
        assert {e.tenant_id for e in seen} == {"acme"}
        by_id = {(e.notification_id, e.status.value) for e in seen}
        assert (first.notification_id, "sent") in by_id
        assert (refused.notification_id, "rejected") in by_id
        assert (model.id, "read") in by_id
        assert [e.notification_id for e in seen].count(first.notification_id) == 2

        # 5. A consumer group resumes after what it handled: the event being handled when the
        # loop stopped comes again (at-least-once), then what happened since.
        group = f"status-readers-{uuid.uuid4().hex[:6]}"
        async with (
            asyncio.timeout(60),
            contextlib.aclosing(
                client.statuses("acme", group_id=group, from_beginning=True)
            ) as stream,
        ):
            async for event in stream:
                if event.notification_id == marker.notification_id and event.status == "sent":
                    break
        later = await client.send(inbox_request())
        await later.wait("sent", timeout=60)
        async with (
            asyncio.timeout(60),
            contextlib.aclosing(client.statuses("acme", group_id=group)) as stream,
        ):
            again = await anext(aiter(stream))
            resumed = await anext(aiter(stream))
        assert (again.notification_id, again.status) == (marker.notification_id, Status.SENT)
        assert (resumed.notification_id, resumed.status) == (later.notification_id, "accepted")
