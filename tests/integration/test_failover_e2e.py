"""Failover between a tenant's integrations (Twilio -> SNS), end to end with a real worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis

from schemas import Settings
from seeds import load_seeds
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.policy import PolicyStore, TenantPolicy
from tests.helpers import consume_until, produce
from tests.integration.test_sms_e2e import SNS_CREDS, TWILIO_CREDS, sms_fakes

pytestmark = pytest.mark.integration


def sms(tenant: str, phone: str) -> dict[str, Any]:
    return {
        "id": f"n-{uuid.uuid4()}",
        "tenantId": tenant,
        "channel": "sms",
        "recipient": {"phone": phone},
        "content": {"body": "Your code is 123456"},
    }


async def test_failover_to_the_next_integration_names_the_provider_that_sent(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    redis: Redis,
) -> None:
    async with sms_fakes() as (twilio, sns, twilio_url, sns_url):
        settings = settings_factory(
            twilio_api_url=twilio_url, sns_endpoint_url=sns_url, send_max_attempts=3
        )
        await load_seeds(redis)
        store = IntegrationStore(redis, Cipher.from_settings(settings))
        for tenant in ("acme", "globex"):
            await store.set(tenant, "twilio", TWILIO_CREDS, is_default=True, priority=1)
            await store.set(tenant, "sns", SNS_CREDS, priority=2)
        await PolicyStore(redis).set("acme", TenantPolicy(failover=True))  # globex: default, off
        # Twilio is down for these two numbers (every call answers 503).
        twilio.fail("+5511999990011", 20500, http_status=503, message="Internal Server Error")
        twilio.fail("+5511999990012", 20500, http_status=503, message="Internal Server Error")
        worker = await worker_factory(settings)
        try:
            with_failover = sms("acme", "+5511999990011")
            without = sms("globex", "+5511999990012")
            await produce(settings, settings.topic_requests, b"acme", orjson.dumps(with_failover))
            await produce(settings, settings.topic_requests, b"globex", orjson.dumps(without))

            def terminal(nid: str) -> Callable[[list[ConsumerRecord]], bool]:
                return lambda rs: any(
                    (e := orjson.loads(r.value))["notificationId"] == nid
                    and e["status"] in ("sent", "failed")
                    for r in rs
                )

            records = await consume_until(
                settings, settings.topic_status, terminal(with_failover["id"])
            )
            events = [orjson.loads(r.value) for r in records]
            mine = [e for e in events if e["notificationId"] == with_failover["id"]]
            assert [(e["status"], e["provider"], e["attempt"]) for e in mine] == [
                ("accepted", "twilio", 0),
                ("retrying", "twilio", 1),
                ("sent", "sns", 2),
            ]
            [published] = sns.messages
            assert published.message_id == mine[-1]["providerMessageId"]

            # Without the policy, the same outage is retried on Twilio until it fails.
            records = await consume_until(settings, settings.topic_status, terminal(without["id"]))
            theirs = [
                orjson.loads(r.value)
                for r in records
                if orjson.loads(r.value)["notificationId"] == without["id"]
            ]
            assert [(e["status"], e["provider"]) for e in theirs] == [
                ("accepted", "twilio"),
                ("retrying", "twilio"),
                ("retrying", "twilio"),
                ("failed", "twilio"),
            ]
            assert theirs[-1]["error"]["retryable"] is True
            assert len(sns.messages) == 1
        finally:
            await worker.stop()
            await twilio.close()
            await sns.close()
