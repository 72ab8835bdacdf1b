"""The apn provider against the APNs fake over HTTP/2 (h2c on loopback): the contract,
Apple's error reasons, the provider-token rules (injected clock) and request validation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from providers import (
    InvalidCredentials,
    PermanentError,
    Provider,
    RetryableError,
    SendResult,
)
from providers.apn import TOKEN_UNREGISTERED, APNProvider, ProviderTokenCache
from providers.apn._credentials import APNCredentials
from providers.transports import provider_mounts
from sandbox._h2 import serve_h2
from sandbox.apn import APNsSandbox, new_device_token
from schemas.notification import NotificationRequest
from tests.helpers import make_settings
from tests.unit.providers.contract import FakeServiceHarness, contract_tests, harness_fixture
from tests.unit.providers.harness import T0, Clock, push_request
from tests.unit.providers.push_common import push_validation_test

TEAM_ID = "TEAM123456"
KEY_ID = "KEY1234567"
BUNDLE_ID = "com.example.herald"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


KEY = new_key()


def credentials(key: ec.EllipticCurvePrivateKey = KEY, **overrides: Any) -> APNCredentials:
    values: dict[str, Any] = {
        "keyId": KEY_ID,
        "teamId": TEAM_ID,
        "bundleId": BUNDLE_ID,
        "privateKey": pem(key),
        **overrides,
    }
    return APNCredentials.model_validate(values)


def make_request(
    content: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> NotificationRequest:
    return push_request(content, token=token, metadata=metadata, provider="apn")


class Harness(FakeServiceHarness):
    sandbox: APNsSandbox
    url_setting = "apns_api_url"

    def __init__(self, sandbox: APNsSandbox, http: httpx.AsyncClient, url: str, clock: Clock):
        super().__init__(sandbox, http, url)
        self.clock = clock
        self.tokens = ProviderTokenCache(clock=clock)
        self.device = new_device_token()

    def provider(
        self,
        *,
        bad_credentials: bool = False,
        timeout_seconds: float | None = None,
        creds: APNCredentials | None = None,
    ) -> APNProvider:
        settings = self.settings(timeout_seconds)
        if creds is None:
            creds = credentials(new_key()) if bad_credentials else credentials()
        return APNProvider(creds, http=self.http, settings=settings, tokens=self.tokens)

    def unreachable_provider(self) -> Provider[Any]:
        settings = self.unreachable_settings()
        return APNProvider(credentials(), http=self.http, settings=settings, tokens=self.tokens)

    def request(self, content_type: str, **kwargs: Any) -> NotificationRequest:
        if content_type == "alert":
            return make_request(
                {"subject": "Order shipped", "body": "It is on its way"}, token=self.device
            )
        return make_request(token=self.device, metadata={"apns": {"data": {"orderId": "1234"}}})

    def invalid_recipient_request(self) -> NotificationRequest:
        return make_request({"body": "hi"}, token="not-a-device-token")

    async def assert_delivered(
        self, content_type: str, request: NotificationRequest, result: SendResult
    ) -> None:
        pushed = self.sandbox.notification(result.provider_message_id)
        assert pushed is not None, "the fake did not record the returned apns-id"
        assert pushed.device_token == self.device
        assert pushed.topic == BUNDLE_ID
        assert pushed.team_id == TEAM_ID
        if content_type == "alert":
            assert pushed.push_type == "alert"
            assert pushed.priority == 10
            assert pushed.payload == {
                "aps": {"alert": {"title": "Order shipped", "body": "It is on its way"}}
            }
        else:
            assert pushed.push_type == "background"
            assert pushed.priority == 5
            assert pushed.payload == {"aps": {"content-available": 1}, "orderId": "1234"}

    def inject_retryable_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(self.device, 429, "TooManyRequests")

    def inject_permanent_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(self.device, 400, "BadDeviceToken")

    def fault_target(self, request: NotificationRequest) -> str:
        return self.device

    def inject_garbage(self, request: NotificationRequest, http_status: int) -> None:
        self.sandbox.garble(self.device, http_status)


@asynccontextmanager
async def running_sandbox() -> AsyncIterator[Harness]:
    clock = Clock()
    sandbox = APNsSandbox(clock=clock)
    sandbox.add_team(TEAM_ID, key_id=KEY_ID, public_key=KEY.public_key(), bundle_ids=[BUNDLE_ID])
    async with (
        serve_h2(sandbox.handle) as url,
        httpx.AsyncClient(http1=False, http2=True) as http,
    ):
        yield Harness(sandbox, http, url, clock)
        await sandbox.close()


TestAPNContract = contract_tests("TestAPNContract", APNProvider, running_sandbox)


env = harness_fixture(running_sandbox)


# --- Apple's reasons --------------------------------------------------------------------


async def test_unregistered_device_is_token_unregistered(env: Harness) -> None:
    env.sandbox.unregister(env.device, at_ms=1_700_000_000_000)
    with pytest.raises(PermanentError) as caught:
        await env.provider().send(env.request("alert"))
    assert caught.value.code == TOKEN_UNREGISTERED
    assert caught.value.provider_code == "Unregistered"
    assert "1700000000000" in caught.value.message
    assert not isinstance(caught.value, InvalidCredentials)


@pytest.mark.parametrize(
    ("status", "reason", "retryable"),
    [
        (400, "BadDeviceToken", False),
        (429, "TooManyRequests", True),
        (500, "InternalServerError", True),
        (503, "ServiceUnavailable", True),
        (503, "Shutdown", True),
        (413, "PayloadTooLarge", False),
    ],
)
async def test_reasons_map_to_the_error_tree(
    env: Harness, status: int, reason: str, retryable: bool
) -> None:
    env.sandbox.fail(env.device, status, reason, retry_after=7 if retryable else None)
    with pytest.raises(PermanentError if not retryable else RetryableError) as caught:
        await env.provider().send(env.request("alert"))
    assert caught.value.code == reason
    assert caught.value.retryable is retryable
    if retryable:
        assert isinstance(caught.value, RetryableError)
        assert caught.value.retry_after == 7


async def test_topic_of_another_app_is_refused_by_the_fake(env: Harness) -> None:
    request = make_request(
        {"body": "hi"}, token=env.device, metadata={"apns": {"topic": "com.other.app"}}
    )
    with pytest.raises(PermanentError) as caught:
        await env.provider().send(request)
    assert caught.value.code == "TopicDisallowed"
    assert env.sandbox.refusals == ["TopicDisallowed"]


async def test_unknown_key_is_invalid_credentials(env: Harness) -> None:
    with pytest.raises(InvalidCredentials) as caught:
        await env.provider(creds=credentials(KEY, keyId="OTHERKEY00")).send(env.request("alert"))
    assert caught.value.code == "InvalidProviderToken"


async def test_unusable_private_key_is_invalid_credentials(env: Harness) -> None:
    with pytest.raises(InvalidCredentials):
        await env.provider(creds=credentials(privateKey="not a key")).send(env.request("alert"))
    assert env.sandbox.notifications == []


# --- provider tokens --------------------------------------------------------------------


async def test_expired_provider_token_is_resigned_once_and_retried(env: Harness) -> None:
    await env.provider().send(env.request("alert"))
    env.sandbox.expire_provider_tokens()
    result = await env.provider().send(env.request("alert"))
    assert env.sandbox.notification(result.provider_message_id) is not None
    assert env.sandbox.refusals == ["ExpiredProviderToken"]
    assert env.tokens.signatures == 2
    assert len(env.sandbox.provider_tokens) == 2


async def test_expired_provider_token_twice_is_invalid_credentials(env: Harness) -> None:
    """A server clock two hours slow: every token is stale; one re-sign, then give up."""
    env.tokens = ProviderTokenCache(clock=Clock(T0 - 2 * 3600))
    with pytest.raises(InvalidCredentials) as caught:
        await env.provider().send(env.request("alert"))
    assert caught.value.code == "ExpiredProviderToken"
    assert env.tokens.signatures == 2  # re-signed exactly once
    assert env.sandbox.refusals == ["ExpiredProviderToken", "ExpiredProviderToken"]


async def test_token_is_reused_for_50_minutes_then_resigned(env: Harness) -> None:
    await env.provider().send(env.request("alert"))
    env.clock.advance(19 * 60)
    await env.provider().send(env.request("alert"))  # a new provider, the same cache
    env.clock.advance(30 * 60)
    await env.provider().send(env.request("alert"))
    assert env.tokens.signatures == 1
    assert len(env.sandbox.provider_tokens) == 1
    env.clock.advance(2 * 60)  # 51 minutes: past TOKEN_MAX_AGE
    await env.provider().send(env.request("alert"))
    assert env.tokens.signatures == 2
    assert len(env.sandbox.notifications) == 4
    assert env.sandbox.refusals == []


async def test_the_fake_refuses_a_token_updated_within_20_minutes(env: Harness) -> None:
    await env.provider().send(env.request("alert"))
    env.clock.advance(19 * 60)
    env.tokens = ProviderTokenCache(clock=env.clock)  # a cache that forgot: re-signs
    with pytest.raises(RetryableError) as caught:
        await env.provider().send(env.request("alert"))
    assert caught.value.code == "TooManyProviderTokenUpdates"


async def test_token_older_than_an_hour_is_refused_by_the_fake(env: Harness) -> None:
    env.tokens = ProviderTokenCache(clock=env.clock, max_age=10 * 3600)  # a careless cache
    await env.provider().send(env.request("alert"))
    env.clock.advance(61 * 60)
    await env.provider().send(env.request("alert"))  # ExpiredProviderToken, re-signed, sent
    assert env.sandbox.refusals == ["ExpiredProviderToken"]
    assert len(env.sandbox.notifications) == 2


# --- request options and validation ------------------------------------------------------


async def test_metadata_sets_the_apns_headers_and_custom_data(env: Harness) -> None:
    request = make_request(
        {"subject": "Hi", "body": "there"},
        token=env.device.upper(),
        metadata={
            "apns": {
                "priority": 5,
                "expiration": 1_900_000_000,
                "collapseId": "order-1234",
                "aps": {"badge": 3, "sound": "default"},
                "data": {"orderId": 1234},
            }
        },
    )
    result = await env.provider().send(request)
    pushed = env.sandbox.notification(result.provider_message_id)
    assert pushed is not None
    assert (pushed.priority, pushed.expiration, pushed.collapse_id) == (
        5,
        1_900_000_000,
        "order-1234",
    )
    assert pushed.payload == {
        "aps": {"alert": {"title": "Hi", "body": "there"}, "badge": 3, "sound": "default"},
        "orderId": 1234,
    }


def test_custom_data_falls_back_on_the_fcm_data_key(env: Harness) -> None:
    request = make_request(token=env.device, metadata={"fcm": {"data": {"k": "v"}}})
    assert env.provider().format_payload(request) == {"aps": {"content-available": 1}, "k": "v"}


test_validate_rejects = push_validation_test(
    [
        ({"body": "x"}, None, {}, "invalid_recipient"),
        ({"body": "x"}, "zz" * 32, {}, "invalid_recipient"),
        ({}, "ab" * 32, {}, "unsupported_content"),
        ({"body": "x"}, "ab" * 32, {"apns": {"priority": 7}}, "invalid_request"),
        ({"body": "x"}, "ab" * 32, {"apns": {"pushType": "fax"}}, "invalid_request"),
        ({"body": "x"}, "ab" * 32, {"apns": {"collapseId": "x" * 65}}, "invalid_request"),
        ({"body": "x"}, "ab" * 32, {"apns": {"data": {"aps": {}}}}, "invalid_request"),
        ({"body": "x" * 5000}, "ab" * 32, {}, "invalid_request"),
    ],
    provider="apn",
)


def test_credentials_choose_apple_hosts() -> None:
    settings = make_settings()
    http = httpx.AsyncClient()
    production = APNProvider(credentials(production=True), http=http, settings=settings)
    development = APNProvider(credentials(), http=http, settings=settings)
    assert production.base_url == "https://api.push.apple.com"
    assert development.base_url == "https://api.sandbox.push.apple.com"


async def test_the_workers_shared_client_reaches_apns_over_http2(env: Harness) -> None:
    """The runtime's client (HTTP/1.1 + the providers' mounts) talks h2c to the fake."""
    settings = make_settings(apns_api_url=env.url)
    async with httpx.AsyncClient(mounts=provider_mounts(settings)) as shared:
        provider = APNProvider(credentials(), http=shared, settings=settings, tokens=env.tokens)
        result = await provider.send(env.request("alert"))
    assert env.sandbox.notification(result.provider_message_id) is not None


async def test_control_endpoint_lists_notifications(env: Harness) -> None:
    result = await env.provider().send(env.request("alert"))
    response = await env.http.get(f"{env.url}/_sandbox/notifications")
    assert response.http_version == "HTTP/2"
    (listed,) = response.json()["notifications"]
    assert (listed["apnsId"], listed["deviceToken"]) == (result.provider_message_id, env.device)
