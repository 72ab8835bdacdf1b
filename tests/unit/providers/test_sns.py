"""The sns provider: the contract against the fake over loopback (SigV4 checked by the
fake with botocore), the Publish form, credentials, XML answers and the error table."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import botocore.session
import httpx
import pytest
from botocore.serialize import create_serializer
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
from providers.sns import (
    SNS_ERRORS,
    SNSProvider,
    encode_form,
    endpoint_url,
    parse_error,
    parse_message_id,
    sign,
)
from providers.sns._credentials import SNSCredentials
from sandbox.sns import SNSSandbox
from schemas.notification import NotificationRequest
from tests.helpers import make_settings
from tests.unit.providers.contract import FakeServiceHarness, ProviderContract
from tests.unit.providers.harness import (
    answering,
    assert_declared,
    fallback_test,
    notification,
    offline,
    refusal,
    transport_test,
    unreachable_url,
)

ACCESS_KEY = "AKIAHERALDTEST000001"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
RECIPIENT = "+55 (11) 98765-4321"
RECIPIENT_E164 = "+5511987654321"
TEXT = {"body": "Your code is 123456"}


def credentials(**overrides: Any) -> SNSCredentials:
    values: dict[str, Any] = {
        "region": REGION,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET,
        **overrides,
    }
    return SNSCredentials(**values)


def make_request(content: dict[str, Any], phone: str | None = RECIPIENT) -> NotificationRequest:
    return notification("sms", {"phone": phone} if phone else {"email": "a@example.com"}, content)


class SNSHarness(FakeServiceHarness):
    sandbox: SNSSandbox

    def provider(
        self, *, bad_credentials: bool = False, timeout_seconds: float | None = None, **creds: Any
    ) -> Provider[Any]:
        settings = make_settings(
            sns_endpoint_url=self.url, provider_timeout_seconds=timeout_seconds or 5.0
        )
        if bad_credentials:
            creds["secret_access_key"] = "not-the-secret"
        return SNSProvider(credentials(**creds), http=self.http, settings=settings)

    def unreachable_provider(self) -> Provider[Any]:
        settings = make_settings(sns_endpoint_url=unreachable_url(), provider_timeout_seconds=2.0)
        return SNSProvider(credentials(), http=self.http, settings=settings)

    def request(self, content_type: str) -> NotificationRequest:
        assert content_type == "text"
        return make_request(TEXT)

    def invalid_recipient_request(self) -> NotificationRequest:
        return make_request(TEXT, phone="12")

    async def assert_delivered(
        self, content_type: str, request: NotificationRequest, result: SendResult
    ) -> None:
        sent = self.sandbox.message(result.provider_message_id)
        assert sent is not None, "the fake did not record the returned MessageId"
        assert str(uuid.UUID(result.provider_message_id)) == result.provider_message_id
        assert sent.access_key_id == ACCESS_KEY
        assert sent.phone_number == RECIPIENT_E164
        assert sent.message == "Your code is 123456"
        assert sent.attributes == {"AWS.SNS.SMS.SMSType": "Transactional"}
        assert result.metadata["request_id"]

    def inject_retryable_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(RECIPIENT, "Throttling", message="Rate exceeded")

    def inject_permanent_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(RECIPIENT, "OptedOut", message="Phone number is opted out")

    def fault_target(self, request: NotificationRequest) -> str:
        return RECIPIENT


@asynccontextmanager
async def running_sandbox(**sandbox_args: Any) -> AsyncIterator[SNSHarness]:
    sandbox = SNSSandbox(region=REGION, **sandbox_args)
    sandbox.add_key(ACCESS_KEY, SECRET)
    async with SNSHarness.serving(sandbox) as harness:
        yield harness


class TestSNSContract(ProviderContract):
    provider_class = SNSProvider
    open_harness = staticmethod(running_sandbox)


# --- against the fake: authentication and attributes ------------------------------------


def error_code(response: httpx.Response) -> str | None:
    error = parse_error(response.content)
    return None if error is None else error.code


@pytest.mark.parametrize(
    ("creds", "code"),
    [
        ({"access_key_id": "AKIAUNKNOWN000000001"}, "InvalidClientTokenId"),
        ({"secret_access_key": "wrong"}, "SignatureDoesNotMatch"),
        ({"region": "eu-west-1"}, "SignatureDoesNotMatch"),
    ],
)
async def test_refused_signatures_are_invalid_credentials(creds: dict[str, Any], code: str) -> None:
    async with running_sandbox() as h:
        with pytest.raises(InvalidCredentials) as caught:
            await h.provider(**creds).send(make_request(TEXT))
        assert caught.value.code == code
        assert h.sandbox.messages == []


async def test_a_skewed_clock_is_refused_as_aws_does() -> None:
    later = datetime.now(UTC) + timedelta(minutes=20)
    async with running_sandbox(now=lambda: later) as h:
        with pytest.raises(InvalidCredentials) as caught:
            await h.provider().send(make_request(TEXT))
        assert caught.value.code == "SignatureDoesNotMatch"
        assert "Signature expired" in caught.value.message


async def test_temporary_credentials_need_their_session_token() -> None:
    async with running_sandbox() as h:
        h.sandbox.add_key("ASIAHERALDTEST000002", "temp-secret", session_token="the-token")
        temp = {"access_key_id": "ASIAHERALDTEST000002", "secret_access_key": "temp-secret"}
        result = await h.provider(**temp, session_token="the-token").send(make_request(TEXT))
        assert h.sandbox.message(result.provider_message_id) is not None
        with pytest.raises(InvalidCredentials) as caught:
            await h.provider(**temp).send(make_request(TEXT))
        assert caught.value.code == "InvalidClientTokenId"


async def test_sender_id_origination_number_and_sms_type_are_sent() -> None:
    async with running_sandbox() as h:
        provider = h.provider(
            sender_id="Herald", from_phone="+1 (206) 555-0100", sms_type="Promotional"
        )
        result = await provider.send(make_request(TEXT))
        sent = h.sandbox.message(result.provider_message_id)
        assert sent is not None
        assert sent.attributes == {
            "AWS.SNS.SMS.SMSType": "Promotional",
            "AWS.SNS.SMS.SenderID": "Herald",
            "AWS.MM.SMS.OriginationNumber": "+12065550100",
        }


async def test_the_fake_refuses_unsigned_tampered_and_invalid_requests() -> None:
    async with running_sandbox() as h:
        url = h.url + "/"
        params = SNSProvider(credentials(), http=h.http, settings=make_settings()).format_payload(
            make_request(TEXT)
        )
        body = encode_form(params)
        signed = sign(
            url,
            body,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET,
            session_token=None,
            region=REGION,
        )
        unsigned = await h.http.post(url, content=body)
        assert (unsigned.status_code, error_code(unsigned)) == (403, "MissingAuthenticationToken")
        tampered = await h.http.post(
            url, content=body.replace(b"123456", b"654321"), headers=signed
        )
        assert (tampered.status_code, error_code(tampered)) == (403, "SignatureDoesNotMatch")
        bad_phone = encode_form([(k, "5511" if k == "PhoneNumber" else v) for k, v in params])
        refused = await h.http.post(
            url,
            content=bad_phone,
            headers=sign(
                url,
                bad_phone,
                access_key_id=ACCESS_KEY,
                secret_access_key=SECRET,
                session_token=None,
                region=REGION,
            ),
        )
        error = parse_error(refused.content)
        assert refused.status_code == 400
        assert error is not None
        assert (error.code, error.type) == ("InvalidParameter", "Sender")
        assert "PhoneNumber" in error.message
        assert error.request_id == refused.headers["x-amzn-RequestId"]
        ok = await h.http.post(url, content=body, headers=signed)
        assert ok.status_code == 200
        assert ok.headers["Content-Type"].startswith("text/xml")
        assert parse_message_id(ok.content) == h.sandbox.messages[0].message_id


# --- the Publish form, endpoints and answers ------------------------------------------------


def test_the_form_is_what_botocores_query_serializer_produces() -> None:
    provider = SNSProvider(
        credentials(sender_id="Herald"), http=httpx.AsyncClient(), settings=make_settings()
    )
    ours = provider.format_payload(make_request(TEXT))
    model = botocore.session.get_session().get_service_model("sns").operation_model("Publish")
    theirs = create_serializer("query").serialize_to_request(
        {
            "PhoneNumber": RECIPIENT_E164,
            "Message": "Your code is 123456",
            "MessageAttributes": {
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "Herald"},
            },
        },
        model,
    )
    assert sorted(ours) == sorted(theirs["body"].items())
    assert sorted(parse_qsl(encode_form(ours).decode())) == sorted(theirs["body"].items())


def test_the_endpoint_is_region_templated() -> None:
    assert endpoint_url("https://sns.{region}.amazonaws.com", "eu-west-1") == (
        "https://sns.eu-west-1.amazonaws.com/"
    )
    assert endpoint_url("http://127.0.0.1:4566/", "us-east-1") == "http://127.0.0.1:4566/"
    provider = SNSProvider(
        credentials(region="ap-southeast-2"), http=httpx.AsyncClient(), settings=make_settings()
    )
    assert provider.endpoint() == "https://sns.ap-southeast-2.amazonaws.com/"


DOC_PUBLISH = b"""<PublishResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/">
    <PublishResult>
        <MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId>
    </PublishResult>
    <ResponseMetadata>
        <RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId>
    </ResponseMetadata>
</PublishResponse>"""


def aws_error(code: str, message: str = "Details.", kind: str = "Sender") -> bytes:
    return (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
        f"<Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>42</RequestId></ErrorResponse>"
    ).encode()


def test_xml_answers_are_read() -> None:
    assert parse_message_id(DOC_PUBLISH) == "567910cd-659e-55d4-8ccb-5aaf14679dc0"
    error = parse_error(aws_error("Throttling", "Rate exceeded"))
    assert error is not None
    assert (error.code, error.message, error.type, error.request_id) == (
        "Throttling",
        "Rate exceeded",
        "Sender",
        "42",
    )
    for garbage in (
        b"",
        b"{}",
        b"<html/>",
        DOC_PUBLISH[:40],
        b'<!DOCTYPE x [<!ENTITY a "b">]><x/>',
    ):
        assert parse_message_id(garbage) is None
        assert parse_error(garbage) is None
    assert parse_message_id(aws_error("X")) is None


# --- validate and credentials ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "content", "code"),
    [
        ("123", TEXT, "invalid_recipient"),
        (None, TEXT, "invalid_recipient"),
        (RECIPIENT, {}, "unsupported_content"),
        (RECIPIENT, {"body": "x", "contact": {"contactId": "1"}}, "unsupported_content"),
        (RECIPIENT, {"body": "x" * 1601}, "invalid_request"),
    ],
)
def test_validate_rejects(phone: str | None, content: dict[str, Any], code: str) -> None:
    provider = SNSProvider(credentials(), http=httpx.AsyncClient(), settings=make_settings())
    with pytest.raises(InvalidRequest) as caught:
        provider.validate(make_request(content, phone=phone))
    assert caught.value.code == code


@pytest.mark.parametrize(
    "overrides",
    [
        {"region": "useast1"},
        {"region": "US-EAST-1"},
        {"access_key_id": "akiaheraldtest000001"},
        {"access_key_id": "AKIA"},
        {"secret_access_key": ""},
        {"sms_type": "Marketing"},
        {"sender_id": "123456"},
        {"sender_id": "TooLongSender1"},
    ],
)
def test_credentials_are_validated(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        credentials(**overrides)


def test_credentials_defaults_follow_the_seed() -> None:
    creds = SNSCredentials.model_validate(
        {
            "providerType": "sns",
            "region": REGION,
            "accessKeyId": ACCESS_KEY,
            "secretAccessKey": SECRET,
            "fromPhone": "",
        }
    )
    assert creds.sms_type == "Transactional"
    assert creds.from_phone is None
    assert SNSProvider.required_credentials() == ["region", "accessKeyId", "secretAccessKey"]
    assert SECRET not in repr(creds)


# --- the error table ------------------------------------------------------------------


async def send_against(response: httpx.Response | Exception) -> ProviderError:
    def check(request: httpx.Request) -> None:
        assert str(request.url) == "https://sns.us-east-1.amazonaws.com/"
        assert request.headers["Authorization"].startswith(
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/"
        )
        assert dict(parse_qsl(request.content.decode()))["Action"] == "Publish"

    provider = offline(SNSProvider, credentials(), answering(response, check))
    return await refusal(provider, make_request(TEXT))


@pytest.mark.parametrize("code", sorted(SNS_ERRORS))
async def test_every_table_code_maps_as_declared(code: str) -> None:
    spec = SNS_ERRORS[code]
    error = await send_against(httpx.Response(400, content=aws_error(code)))
    assert_declared(error, spec)
    assert error.code == code
    assert error.message == "Details."


test_unlisted_codes_and_unreadable_bodies = fallback_test(
    send_against,
    [
        (400, aws_error("SomethingNew"), PermanentError, "SomethingNew"),
        (400, aws_error("SomethingNew", kind="Receiver"), RetryableError, "SomethingNew"),
        (503, aws_error("SomethingNew"), RetryableError, "SomethingNew"),
        (429, aws_error("SomethingNew"), RetryableError, "SomethingNew"),
        (500, b"<html>", RetryableError, "provider_unavailable"),
        (403, b"", InvalidCredentials, "auth_failed"),
        (404, b"nope", PermanentError, "provider_error"),
        (200, b"not xml", RetryableError, "provider_unavailable"),
        (200, aws_error("X"), RetryableError, "provider_unavailable"),
    ],
)


async def test_success_returns_the_message_id() -> None:
    response = httpx.Response(200, content=DOC_PUBLISH, headers={"x-amzn-RequestId": "r-1"})
    provider = SNSProvider(
        credentials(),
        http=httpx.AsyncClient(transport=httpx.MockTransport(lambda request: response)),
        settings=make_settings(),
    )
    result = await provider.send(make_request(TEXT))
    assert result.provider_message_id == "567910cd-659e-55d4-8ccb-5aaf14679dc0"
    assert result.metadata == {"request_id": "r-1"}


test_transport_errors_are_translated = transport_test(send_against)
