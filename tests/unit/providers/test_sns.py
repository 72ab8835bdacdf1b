"""The sns provider: the contract against the fake over loopback (SigV4 checked by the
fake with botocore), authentication and attributes, and the error table
(httpx.MockTransport). The Publish form, XML answers and credentials: test_sns_payload.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from providers import (
    InvalidCredentials,
    PermanentError,
    Provider,
    ProviderError,
    RetryableError,
    SendResult,
)
from providers.sns import SNS_ERRORS, SNSProvider, encode_form, parse_error, parse_message_id, sign
from providers.sns._credentials import SNSCredentials
from sandbox.sns import SNSSandbox
from schemas.notification import NotificationRequest
from tests.helpers import make_settings
from tests.unit.providers.contract import contract_tests
from tests.unit.providers.harness import (
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

ACCESS_KEY = "AKIAHERALDTEST000001"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"


def credentials(**overrides: Any) -> SNSCredentials:
    values: dict[str, Any] = {
        "region": REGION,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET,
        **overrides,
    }
    return SNSCredentials(**values)


class SNSHarness(SmsHarness):
    sandbox: SNSSandbox
    url_setting = "sns_endpoint_url"

    def provider(
        self, *, bad_credentials: bool = False, timeout_seconds: float | None = None, **creds: Any
    ) -> Provider[Any]:
        if bad_credentials:
            creds["secret_access_key"] = "not-the-secret"
        settings = self.settings(timeout_seconds)
        return SNSProvider(credentials(**creds), http=self.http, settings=settings)

    def unreachable_provider(self) -> Provider[Any]:
        return SNSProvider(credentials(), http=self.http, settings=self.unreachable_settings())

    async def assert_delivered(
        self, content_type: str, request: NotificationRequest, result: SendResult
    ) -> None:
        sent = self.recorded(result, "MessageId")
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


@asynccontextmanager
async def running_sandbox(**sandbox_args: Any) -> AsyncIterator[SNSHarness]:
    sandbox = SNSSandbox(region=REGION, **sandbox_args)
    sandbox.add_key(ACCESS_KEY, SECRET)
    async with SNSHarness.serving(sandbox) as harness:
        yield harness


TestSNSContract = contract_tests("TestSNSContract", SNSProvider, running_sandbox)


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
