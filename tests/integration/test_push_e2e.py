"""Push end to end: a real worker process sends one FCM and one APNs notification to the
fakes (FCM over HTTP/1.1 with its OAuth token endpoint; APNs over HTTP/2, h2c on
loopback, through the worker's shared client and its mounts) and both end ``sent``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from redis.asyncio import Redis

from sandbox import serve_app
from sandbox._h2 import serve_h2
from sandbox.apn import APNsSandbox, new_device_token
from sandbox.firebase import FirebaseSandbox, new_registration_token
from schemas import Settings
from seeds import load_seeds
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from tests.helpers import consume_until, produce

pytestmark = pytest.mark.integration

PROJECT = "herald-e2e"
TEAM_ID = "TEAME2E001"
KEY_ID = "KEYE2E0001"
BUNDLE_ID = "com.example.e2e"


def request(provider: str, token: str) -> dict[str, Any]:
    return {
        "id": f"push-{provider}-{uuid.uuid4()}",
        "tenantId": "acme",
        "channel": "fcm",
        "provider": provider,
        "recipient": {"deviceToken": token},
        "content": {"subject": "Order shipped", "body": "Your order is on its way"},
        "metadata": {"orderId": "1234"},
    }


async def test_firebase_and_apn_requests_end_sent_with_the_provider_ids(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    redis: Redis,
) -> None:
    fcm = FirebaseSandbox()
    account = fcm.add_service_account(PROJECT)
    apns = APNsSandbox()
    key = ec.generate_private_key(ec.SECP256R1())
    apns.add_team(TEAM_ID, key_id=KEY_ID, public_key=key.public_key(), bundle_ids=[BUNDLE_ID])
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()

    async with serve_app(fcm.app) as fcm_url, serve_h2(apns.handle) as apns_url:
        settings = settings_factory(
            fcm_api_url=fcm_url,
            apns_api_url=apns_url,
            provider_timeout_seconds=5.0,
            send_max_attempts=1,
        )
        await load_seeds(redis)
        store = IntegrationStore(redis, Cipher.from_settings(settings))
        await store.set(
            "acme",
            "firebase",
            {"projectId": PROJECT, "serviceAccount": account.info(token_uri=f"{fcm_url}/token")},
            is_default=True,
        )
        await store.set(
            "acme",
            "apn",
            {"keyId": KEY_ID, "teamId": TEAM_ID, "bundleId": BUNDLE_ID, "privateKey": pem},
        )
        await worker_factory(settings)

        to_fcm = request("firebase", new_registration_token())
        to_apns = request("apn", new_device_token())
        for req in (to_fcm, to_apns):
            await produce(settings, settings.topic_requests, b"acme", orjson.dumps(req))

        ids = {to_fcm["id"], to_apns["id"]}

        def both_done(records: list[ConsumerRecord]) -> bool:
            done = {
                e["notificationId"]
                for e in map(orjson.loads, (r.value for r in records))
                if e["status"] in ("sent", "failed", "rejected")
            }
            return ids <= done

        records = await consume_until(settings, settings.topic_status, both_done, timeout=60)
        events = [orjson.loads(r.value) for r in records]

    final = {
        e["notificationId"]: e
        for e in events
        if e["notificationId"] in ids and e["status"] in ("sent", "failed", "rejected")
    }
    fcm_sent, apns_sent = final[to_fcm["id"]], final[to_apns["id"]]
    assert (fcm_sent["status"], fcm_sent["provider"]) == ("sent", "firebase"), fcm_sent
    assert (apns_sent["status"], apns_sent["provider"]) == ("sent", "apn"), apns_sent

    (message,) = fcm.messages
    assert fcm_sent["providerMessageId"] == message.name
    assert message.token == to_fcm["recipient"]["deviceToken"]
    assert message.message["notification"] == {
        "title": "Order shipped",
        "body": "Your order is on its way",
    }
    assert fcm.grants == 1

    (pushed,) = apns.notifications
    assert apns_sent["providerMessageId"] == pushed.apns_id
    assert pushed.device_token == to_apns["recipient"]["deviceToken"]
    assert pushed.topic == BUNDLE_ID
    assert pushed.payload == {
        "aps": {"alert": {"title": "Order shipped", "body": "Your order is on its way"}}
    }
    assert fcm_sent["metadata"] == {"orderId": "1234"}
