"""The firebase provider against the FCM fake (and its OAuth token endpoint) over loopback:
the contract, FCM's error codes, access-token caching and refresh, validation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from providers import (
    InvalidCredentials,
    PermanentError,
    Provider,
    RetryableError,
    SendResult,
)
from providers.firebase import (
    TOKEN_UNREGISTERED,
    AccessTokenCache,
    FirebaseProvider,
    error_from_response,
)
from providers.firebase._credentials import FirebaseCredentials
from sandbox._fcm import google_error
from sandbox.firebase import FcmFault, FirebaseSandbox, new_registration_token
from schemas.notification import NotificationRequest
from tests.helpers import make_settings
from tests.unit.providers.contract import FakeServiceHarness, contract_tests, harness_fixture
from tests.unit.providers.harness import Clock, push_request, unreachable_url
from tests.unit.providers.push_common import push_validation_test

PROJECT = "herald-demo"
make_request = push_request


class Harness(FakeServiceHarness):
    sandbox: FirebaseSandbox
    url_setting = "fcm_api_url"

    def __init__(self, sandbox: FirebaseSandbox, http: httpx.AsyncClient, url: str, clock: Clock):
        super().__init__(sandbox, http, url)
        self.clock = clock
        self.tokens = AccessTokenCache(clock=clock)
        self.account = sandbox.add_service_account(PROJECT)
        self.device = new_registration_token()

    def credentials(self, **overrides: Any) -> FirebaseCredentials:
        info = self.account.info(token_uri=f"{self.url}/token")
        values = {"projectId": PROJECT, "serviceAccount": info, **overrides}
        return FirebaseCredentials.model_validate(values)

    def provider(
        self,
        *,
        bad_credentials: bool = False,
        timeout_seconds: float | None = None,
        creds: FirebaseCredentials | None = None,
    ) -> FirebaseProvider:
        settings = self.settings(timeout_seconds)
        if creds is None and bad_credentials:  # a key Google does not know for the account
            other = FirebaseSandbox().add_service_account(
                PROJECT, client_email=self.account.client_email
            )
            info = other.info(token_uri=f"{self.url}/token")
            creds = FirebaseCredentials.model_validate(
                {"projectId": PROJECT, "serviceAccount": info}
            )
        return FirebaseProvider(
            creds or self.credentials(), http=self.http, settings=settings, tokens=self.tokens
        )

    def unreachable_provider(self) -> Provider[Any]:
        dead = unreachable_url()
        settings = make_settings(fcm_api_url=dead, provider_timeout_seconds=2.0)
        creds = FirebaseCredentials.model_validate(
            {"projectId": PROJECT, "serviceAccount": self.account.info(token_uri=f"{dead}/token")}
        )
        return FirebaseProvider(creds, http=self.http, settings=settings, tokens=self.tokens)

    def request(self, content_type: str) -> NotificationRequest:
        if content_type == "notification":
            return make_request(
                {"subject": "Order shipped", "body": "On its way"}, token=self.device
            )
        return make_request(token=self.device, metadata={"fcm": {"data": {"orderId": "1234"}}})

    def invalid_recipient_request(self) -> NotificationRequest:
        return make_request({"body": "hi"})

    async def assert_delivered(
        self, content_type: str, request: NotificationRequest, result: SendResult
    ) -> None:
        sent = self.recorded(result, "name")
        assert result.provider_message_id.startswith(f"projects/{PROJECT}/messages/")
        if content_type == "notification":
            assert sent.message == {
                "token": self.device,
                "notification": {"title": "Order shipped", "body": "On its way"},
            }
        else:
            assert sent.message == {"token": self.device, "data": {"orderId": "1234"}}

    def inject_retryable_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(self.device, "UNAVAILABLE")

    def inject_permanent_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(self.device, "SENDER_ID_MISMATCH")

    def fault_target(self, request: NotificationRequest) -> str:
        return self.device


@asynccontextmanager
async def running_sandbox() -> AsyncIterator[Harness]:
    clock = Clock()
    sandbox = FirebaseSandbox(clock=clock)
    async with Harness.serving(sandbox, clock) as harness:
        yield harness


TestFirebaseContract = contract_tests("TestFirebaseContract", FirebaseProvider, running_sandbox)


env = harness_fixture(running_sandbox)


# --- FCM's error codes ------------------------------------------------------------------


async def test_unregistered_token_is_token_unregistered(env: Harness) -> None:
    env.sandbox.unregister(env.device)
    with pytest.raises(PermanentError) as caught:
        await env.provider().send(env.request("notification"))
    assert caught.value.code == TOKEN_UNREGISTERED
    assert caught.value.provider_code == "UNREGISTERED"


async def test_malformed_token_is_token_unregistered(env: Harness) -> None:
    request = make_request({"body": "hi"}, token="not-a-registration-token")
    with pytest.raises(PermanentError) as caught:
        await env.provider().send(request)
    assert caught.value.code == TOKEN_UNREGISTERED
    assert caught.value.provider_code == "INVALID_ARGUMENT"


async def test_token_of_another_project_is_sender_id_mismatch(env: Harness) -> None:
    env.sandbox.register_token(env.device, "another-project")
    with pytest.raises(PermanentError) as caught:
        await env.provider().send(env.request("notification"))
    assert caught.value.code == "SENDER_ID_MISMATCH"
    assert not isinstance(caught.value, InvalidCredentials)


@pytest.mark.parametrize("code", ["QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"])
async def test_retryable_codes_honour_retry_after(env: Harness, code: str) -> None:
    env.sandbox.fail(env.device, code, retry_after=30)
    with pytest.raises(RetryableError) as caught:
        await env.provider().send(env.request("notification"))
    assert caught.value.code == code
    assert caught.value.retry_after == 30


async def test_third_party_auth_error_is_permanent_and_not_a_token_refresh(env: Harness) -> None:
    env.sandbox.fail(env.device, "THIRD_PARTY_AUTH_ERROR")
    with pytest.raises(PermanentError) as caught:
        await env.provider().send(env.request("notification"))
    assert caught.value.code == "THIRD_PARTY_AUTH_ERROR"
    assert env.sandbox.grants == 1


async def test_project_the_account_cannot_send_for_is_invalid_credentials(env: Harness) -> None:
    creds = env.credentials(projectId="someone-elses-project")
    with pytest.raises(InvalidCredentials) as caught:
        await env.provider(creds=creds).send(env.request("notification"))
    assert caught.value.code == "PERMISSION_DENIED"


async def test_revoked_key_is_invalid_credentials(env: Harness) -> None:
    env.sandbox.revoke_key(env.account.client_email)
    with pytest.raises(InvalidCredentials) as caught:
        await env.provider().send(env.request("notification"))
    assert "invalid_grant" in caught.value.message


def test_invalid_argument_about_a_field_is_not_a_token_error() -> None:
    body = google_error(
        400,
        "Invalid value at 'message.data[0].value' (TYPE_STRING), 12",
        field_violations=[{"field": "message.data[0].value", "description": "bad"}],
    )
    error = error_from_response(httpx.Response(400, content=orjson.dumps(body)))
    assert isinstance(error, PermanentError)
    assert error.code == "INVALID_ARGUMENT"


# --- access tokens ----------------------------------------------------------------------


async def test_access_token_is_cached_across_sends_and_providers(env: Harness) -> None:
    for _ in range(3):
        await env.provider().send(env.request("notification"))
    assert env.sandbox.grants == 1
    assert env.tokens.fetches == 1
    assert len(env.sandbox.messages) == 3


async def test_concurrent_sends_share_one_token_request(env: Harness) -> None:
    await asyncio.gather(*(env.provider().send(env.request("data")) for _ in range(5)))
    assert env.sandbox.grants == 1


async def test_access_token_is_renewed_shortly_before_it_expires(env: Harness) -> None:
    await env.provider().send(env.request("notification"))
    env.clock.advance(3599 - 301)  # still more than the 300 s margin left
    await env.provider().send(env.request("notification"))
    assert env.sandbox.grants == 1
    env.clock.advance(2)  # inside the margin: replaced before FCM would refuse it
    await env.provider().send(env.request("notification"))
    assert env.sandbox.grants == 2
    assert env.sandbox.refused == 0


async def test_refused_access_token_is_refreshed_once(env: Harness) -> None:
    await env.provider().send(env.request("notification"))
    env.sandbox.expire_access_tokens()
    result = await env.provider().send(env.request("notification"))
    assert env.sandbox.message(result.provider_message_id) is not None
    assert env.sandbox.refused == 1
    assert env.sandbox.grants == 2


async def test_401_after_a_refresh_is_invalid_credentials(env: Harness) -> None:
    body = orjson.dumps(google_error(401, "Request had invalid authentication credentials."))
    env.sandbox.add_fault(env.device, FcmFault(None, http_status=401, raw_body=body))
    with pytest.raises(InvalidCredentials) as caught:
        await env.provider().send(env.request("notification"))
    assert caught.value.code == "UNAUTHENTICATED"
    assert env.sandbox.grants == 2  # the first token, then exactly one refresh


async def test_seed_shaped_credentials_work(env: Harness) -> None:
    creds = FirebaseCredentials.model_validate(
        {
            "projectId": PROJECT,
            "clientEmail": env.account.client_email,
            "privateKey": env.account.private_key_pem.replace("\n", "\\n"),
            "tokenUri": f"{env.url}/token",
        }
    )
    result = await env.provider(creds=creds).send(env.request("notification"))
    assert env.sandbox.message(result.provider_message_id) is not None


async def test_token_url_setting_wins_over_the_accounts(env: Harness) -> None:
    info = env.account.info(token_uri="https://oauth2.googleapis.com/token")
    creds = FirebaseCredentials.model_validate({"projectId": PROJECT, "serviceAccount": info})
    settings = make_settings(fcm_api_url=env.url, fcm_token_url=f"{env.url}/token")
    provider = FirebaseProvider(creds, http=env.http, settings=settings, tokens=env.tokens)
    await provider.send(env.request("notification"))
    assert env.sandbox.grants == 1


async def test_the_fake_verifies_the_assertion_signature(env: Harness) -> None:
    forged = jwt.encode(
        {
            "iss": env.account.client_email,
            "aud": "https://oauth2.googleapis.com/token",
            "iat": 0,
            "exp": 1,
            "scope": "x",
        },
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
    )
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": forged}
    response = await env.http.post(f"{env.url}/token", data=form)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid JWT Signature.",
    }
    wrong_grant = await env.http.post(f"{env.url}/token", data={"grant_type": "password"})
    assert wrong_grant.json()["error"] == "unsupported_grant_type"


# --- payload and validation -------------------------------------------------------------


def test_overrides_are_passed_through(env: Harness) -> None:
    metadata = {
        "fcm": {
            "data": {"orderId": "1234"},
            "android": {"priority": "high", "ttl": "3600s"},
            "apns": {"headers": {"apns-priority": "5"}},
            "webpush": {"headers": {"Urgency": "high"}},
            "fcmOptions": {"analytics_label": "orders"},
        }
    }
    content = {"subject": "T", "body": "B", "media": {"url": "https://cdn.example/a.png"}}
    body = env.provider().format_payload(make_request(content, token="t:x", metadata=metadata))
    assert body == {
        "message": {
            "token": "t:x",
            "notification": {"title": "T", "body": "B", "image": "https://cdn.example/a.png"},
            "data": {"orderId": "1234"},
            "android": {"priority": "high", "ttl": "3600s"},
            "apns": {"headers": {"apns-priority": "5"}},
            "webpush": {"headers": {"Urgency": "high"}},
            "fcm_options": {"analytics_label": "orders"},
        }
    }


test_validate_rejects = push_validation_test(
    [
        ({"body": "x"}, None, {}, "invalid_recipient"),
        ({}, "a:b", {}, "unsupported_content"),
        ({"body": "x"}, "a:b", {"fcm": {"data": {"n": 1}}}, "invalid_request"),
        ({"body": "x"}, "a:b", {"fcm": {"data": {"google.x": "1"}}}, "invalid_request"),
        ({"body": "x"}, "a:b", {"fcm": {"android": "high"}}, "invalid_request"),
        ({"body": "x"}, "a:b", {"fcm": []}, "invalid_request"),
    ],
)


def test_credentials_name_what_is_missing() -> None:
    with pytest.raises(ValidationError) as caught:
        FirebaseCredentials.model_validate({"projectId": "p"})
    assert "serviceAccount, or privateKey and clientEmail" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        FirebaseCredentials.model_validate(
            {"projectId": "p", "serviceAccount": {"client_email": "a@b"}}
        )
    messages = [e["msg"] for e in caught.value.errors(include_input=False)]
    assert messages == ["Value error, serviceAccount lacks private_key"]
    with pytest.raises(ValidationError) as caught:
        FirebaseCredentials.model_validate({"serviceAccount": {"client_email": "a@b"}})
    assert [e["loc"] for e in caught.value.errors()] == [("projectId",)]


async def test_control_endpoints(env: Harness) -> None:
    base = f"{env.url}/_sandbox"
    other = new_registration_token()
    assert (await env.http.post(f"{base}/unregister", json={"token": other})).status_code == 204
    fault = {"token": env.device, "errorCode": "QUOTA_EXCEEDED", "retryAfter": 5, "times": 1}
    assert (await env.http.post(f"{base}/faults", json=fault)).status_code == 201
    assert (await env.http.post(f"{base}/faults", json={"token": 1})).status_code == 400
    provider = env.provider()
    with pytest.raises(RetryableError) as caught:
        await provider.send(env.request("notification"))
    assert (caught.value.code, caught.value.retry_after) == ("QUOTA_EXCEEDED", 5)
    result = await provider.send(env.request("notification"))  # the fault was used up
    with pytest.raises(PermanentError):
        await provider.send(make_request({"body": "x"}, token=other))
    listed = (await env.http.get(f"{base}/messages")).json()["messages"]
    assert [m["name"] for m in listed] == [result.provider_message_id]
