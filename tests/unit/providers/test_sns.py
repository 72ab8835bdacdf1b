"""The sns provider against its fake over loopback (SigV4 checked by the fake with
botocore): the contract, authentication and attributes. Without the fake:
test_sns_offline.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from providers import (
    InvalidCredentials,
    Provider,
    SendResult,
)
from providers.sns import (
    SNSProvider,
    encode_form,
    parse_error,
    parse_message_id,
    sign,
)
from providers.sns._credentials import SNSCredentials
from sandbox.sns import SNSSandbox
from schemas.notification import NotificationRequest
from tests.helpers import make_settings
from tests.unit.providers.contract import ProviderContract
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
