"""The twilio provider: the contract against the fake over loopback, what the fake
receives, validation, credentials, and the error table (httpx.MockTransport)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest
from pydantic import ValidationError

from providers import (
    InvalidCredentials,
    InvalidRequest,
    PermanentError,
    Provider,
    ProviderError,
    RetryableError,
    SendResult,
)
from providers.twilio import TWILIO_ERRORS, TwilioProvider
from providers.twilio._credentials import TwilioCredentials
from sandbox.twilio import TwilioSandbox
from schemas.notification import NotificationRequest
from tests.unit.providers.contract import contract_tests
from tests.unit.providers.harness import (
    FROM_STATUS_CASES,
    answering,
    assert_declared,
    fallback_test,
    offline,
    refusal,
    transport_test,
)
from tests.unit.providers.sms_common import (
    RECIPIENT,
    RECIPIENT_E164,
    TEXT,
    SmsHarness,
    make_request,
)

ACCOUNT_SID = "AC" + "3f0a" * 8
AUTH_TOKEN = "c0ffee" * 5 + "ab"
API_KEY_SID = "SK" + "5e" * 16
API_KEY_SECRET = "key-secret"
SERVICE_SID = "MG" + "9d" * 16
SENDER = "+15005550006"
PUBLIC_URL = "https://herald.example.com/"
SID = re.compile(r"^SM[0-9a-f]{32}$")


def credentials(**overrides: Any) -> TwilioCredentials:
    values: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_phone": "+1 (500) 555-0006",
        **overrides,
    }
    return TwilioCredentials(**values)


class TwilioHarness(SmsHarness):
    sandbox: TwilioSandbox
    url_setting = "twilio_api_url"

    def provider(
        self,
        *,
        bad_credentials: bool = False,
        timeout_seconds: float | None = None,
        public_url: str | None = PUBLIC_URL,
        **creds: Any,
    ) -> Provider[Any]:
        settings = self.settings(timeout_seconds, public_url=public_url)
        if bad_credentials:
            creds["auth_token"] = "not-the-token"
        return TwilioProvider(credentials(**creds), http=self.http, settings=settings)

    def unreachable_provider(self) -> Provider[Any]:
        return TwilioProvider(credentials(), http=self.http, settings=self.unreachable_settings())

    async def assert_delivered(
        self, content_type: str, request: NotificationRequest, result: SendResult
    ) -> None:
        sent = self.recorded(result, "sid")
        assert SID.match(result.provider_message_id)
        assert sent.account_sid == ACCOUNT_SID
        assert dict(sent.form) == {
            "To": RECIPIENT_E164,
            "Body": "Your code is 123456",
            "From": SENDER,
            "StatusCallback": "https://herald.example.com/webhooks/twilio",
        }
        assert result.metadata == {"status": "queued", "num_segments": "1"}

    def inject_retryable_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(RECIPIENT, 20429, http_status=429, message="Too Many Requests")

    def inject_permanent_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(RECIPIENT, 21610, message="Attempt to send to unsubscribed recipient")


@asynccontextmanager
async def running_sandbox() -> AsyncIterator[TwilioHarness]:
    sandbox = TwilioSandbox()
    sandbox.add_account(
        ACCOUNT_SID, AUTH_TOKEN, api_keys={API_KEY_SID: API_KEY_SECRET}, senders={SENDER}
    )
    async with TwilioHarness.serving(sandbox) as harness:
        yield harness


TestTwilioContract = contract_tests("TestTwilioContract", TwilioProvider, running_sandbox)


# --- against the fake: what the contract does not cover ---------------------------------


async def test_api_key_authentication_and_its_refusal() -> None:
    async with running_sandbox() as h:
        ok = h.provider(api_key_sid=API_KEY_SID, api_key_secret=API_KEY_SECRET)
        result = await ok.send(make_request(TEXT))
        assert h.sandbox.message(result.provider_message_id) is not None
        bad = h.provider(api_key_sid=API_KEY_SID, api_key_secret="wrong")
        with pytest.raises(InvalidCredentials) as caught:
            await bad.send(make_request(TEXT))
        assert caught.value.code == "20003"
        assert len(h.sandbox.messages) == 1


async def test_an_account_sid_the_credentials_do_not_own_is_refused() -> None:
    async with running_sandbox() as h:
        provider = h.provider(account_sid="AC" + "0" * 32)
        with pytest.raises(InvalidCredentials) as caught:
            await provider.send(make_request(TEXT))
        assert caught.value.code == "20003"
        assert h.sandbox.messages == []


async def test_a_messaging_service_replaces_from() -> None:
    async with running_sandbox() as h:
        provider = h.provider(messaging_service_sid=SERVICE_SID)
        result = await provider.send(make_request(TEXT))
        sent = h.sandbox.message(result.provider_message_id)
        assert sent is not None
        assert sent.messaging_service_sid == SERVICE_SID
        assert "From" not in dict(sent.form)
        assert result.metadata["status"] == "accepted"
        assert result.metadata["messaging_service_sid"] == SERVICE_SID


async def test_a_sender_the_account_does_not_own_is_permanent() -> None:
    async with running_sandbox() as h:
        with pytest.raises(PermanentError) as caught:
            await h.provider(from_phone="+15005550001").send(make_request(TEXT))
        assert caught.value.code == "21606"
        assert not isinstance(caught.value, InvalidCredentials)


async def test_without_a_public_url_no_status_callback_is_requested(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_sandbox() as h:
        provider = h.provider(public_url=None)
        with caplog.at_level(logging.WARNING, logger="providers.twilio._provider"):
            for _ in range(3):
                result = await provider.send(make_request(TEXT))
                sent = h.sandbox.message(result.provider_message_id)
                assert sent is not None
                assert sent.status_callback is None
                assert "StatusCallback" not in dict(sent.form)
        warnings = [r for r in caplog.records if "HERALD_PUBLIC_URL" in r.getMessage()]
        assert len(warnings) <= 1  # once per process (maybe already logged by another test)


async def test_retry_after_is_honoured() -> None:
    async with running_sandbox() as h:
        h.sandbox.fail(RECIPIENT, 20429, http_status=429, retry_after=4)
        with pytest.raises(RetryableError) as caught:
            await h.provider().send(make_request(TEXT))
        assert caught.value.code == "20429"
        assert caught.value.retry_after == 4


async def test_the_fake_refuses_what_twilio_refuses() -> None:
    async with running_sandbox() as h:
        url = f"{h.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        auth = (ACCOUNT_SID, AUTH_TOKEN)
        cases = [
            ({"From": SENDER, "Body": "x"}, 21604),
            ({"To": "5511987654321", "From": SENDER, "Body": "x"}, 21211),
            ({"To": RECIPIENT_E164, "Body": "x"}, 21603),
            ({"To": RECIPIENT_E164, "From": SENDER}, 21602),
            ({"To": RECIPIENT_E164, "From": SENDER, "Body": "x" * 1601}, 21617),
        ]
        for form, code in cases:
            response = await h.http.post(url, data=form, auth=auth)
            body = response.json()
            assert (response.status_code, body["code"]) == (400, code)
            assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
            assert body["status"] == 400
        unauthenticated = await h.http.post(url, data=cases[0][0])
        assert unauthenticated.status_code == 401
        assert unauthenticated.json()["code"] == 20003
        assert unauthenticated.headers["WWW-Authenticate"].startswith("Basic")
        created = await h.http.post(
            url, data={"To": RECIPIENT_E164, "From": SENDER, "Body": "olá ✓"}, auth=auth
        )
        assert created.status_code == 201
        resource = created.json()
        assert resource["status"] == "queued"
        assert resource["direction"] == "outbound-api"
        assert resource["api_version"] == "2010-04-01"
        assert (
            resource["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{resource['sid']}.json"
        )
        assert len(resource["sid"]) == 34
        assert h.sandbox.messages == [h.sandbox.message(resource["sid"])]


# --- format_payload / validate ------------------------------------------------------------


def offline_provider(handler: Any = None, **creds: Any) -> TwilioProvider:
    provider: TwilioProvider = offline(
        TwilioProvider,
        credentials(**creds),
        handler,
        twilio_api_url="https://api.twilio.test",
        public_url=PUBLIC_URL,
    )
    return provider


def test_format_payload_is_the_form_twilio_expects() -> None:
    assert offline_provider().format_payload(make_request(TEXT)) == {
        "To": RECIPIENT_E164,
        "Body": "Your code is 123456",
        "From": SENDER,
        "StatusCallback": "https://herald.example.com/webhooks/twilio",
    }
    alphanumeric = offline_provider(from_phone="Herald").format_payload(make_request(TEXT))
    assert alphanumeric["From"] == "Herald"


@pytest.mark.parametrize(
    ("phone", "content", "code"),
    [
        (None, TEXT, "invalid_recipient"),
        ("123", TEXT, "invalid_recipient"),
        ("0055 11 98765 4321", TEXT, "invalid_recipient"),
        (RECIPIENT, {}, "unsupported_content"),
        (RECIPIENT, {"body": "  "}, "unsupported_content"),
        (RECIPIENT, {"subject": "s", "html": "<p>x</p>"}, "unsupported_content"),
        (RECIPIENT, {"body": "x", "media": {"url": "https://x.io/a.png"}}, "unsupported_content"),
        (
            RECIPIENT,
            {"body": "x", "location": {"latitude": 1, "longitude": 2}},
            "unsupported_content",
        ),
        (RECIPIENT, {"body": "x" * 1601}, "invalid_request"),
    ],
)
def test_validate_rejects(phone: str | None, content: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        offline_provider().validate(make_request(content, phone=phone))
    assert caught.value.code == code


def test_the_longest_body_is_accepted() -> None:
    offline_provider().validate(make_request({"body": "x" * 1600, "subject": "ignored"}))


@pytest.mark.parametrize(
    "overrides",
    [
        {"account_sid": "AC123"},
        {"account_sid": "XX" + "0" * 32},
        {"auth_token": " "},
        {"from_phone": None},
        {"from_phone": ""},
        {"api_key_sid": API_KEY_SID},
        {"api_key_secret": "s"},
        {"messaging_service_sid": "MG1"},
    ],
)
def test_credentials_are_validated(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        credentials(**overrides)


def test_credentials_accept_the_seed_spelling() -> None:
    creds = TwilioCredentials.model_validate(
        {
            "providerType": "twilio",
            "accountSid": ACCOUNT_SID,
            "authToken": AUTH_TOKEN,
            "fromPhone": "",
            "messagingServiceSid": SERVICE_SID,
        }
    )
    assert creds.from_phone is None
    assert TwilioProvider.required_credentials() == ["accountSid", "authToken"]
    assert AUTH_TOKEN not in repr(creds)


# --- the error table ------------------------------------------------------------------


def twilio_error(code: int, status: int = 400, **headers: str) -> httpx.Response:
    body = {
        "code": code,
        "message": f"Message of {code}",
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return httpx.Response(status, content=orjson.dumps(body), headers=headers)


async def send_against(response: httpx.Response | Exception) -> ProviderError:
    def check(request: httpx.Request) -> None:
        assert request.url.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert dict(parse_qsl(request.content.decode()))["To"] == RECIPIENT_E164

    return await refusal(offline_provider(answering(response, check)), make_request(TEXT))


@pytest.mark.parametrize("code", sorted(TWILIO_ERRORS))
async def test_every_table_code_maps_as_declared(code: int) -> None:
    spec = TWILIO_ERRORS[code]
    error = await send_against(twilio_error(code))
    assert_declared(error, spec)
    assert error.code == str(code)
    assert error.message == f"Message of {code}"


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        (21211, 400, PermanentError),
        (20003, 401, InvalidCredentials),
        (20429, 429, RetryableError),
        (99999, 400, PermanentError),  # unknown 4xx: permanent
        (99999, 401, InvalidCredentials),
        (99999, 503, RetryableError),  # unknown 5xx: retryable
        (99999, 429, RetryableError),
    ],
)
async def test_documented_examples(code: int, status: int, expected: type[Exception]) -> None:
    error = await send_against(twilio_error(code, status))
    assert type(error) is expected
    assert error.code == str(code)


test_unreadable_bodies_fall_back_on_the_status = fallback_test(
    send_against,
    [
        *FROM_STATUS_CASES,
        (400, b'{"code": "x"}', PermanentError, "provider_error"),
        (201, b"not json", RetryableError, "provider_unavailable"),
        (201, b"[]", RetryableError, "provider_unavailable"),
        (201, b'{"sid": 5}', RetryableError, "provider_unavailable"),
    ],
)


test_transport_errors_are_translated = transport_test(send_against)
