"""The ses provider: the contract against the fake over loopback (SigV4 verified by the
fake), botocore's own client against the fake, the SendEmail body, and the error table."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.header import decode_header, make_header
from typing import Any

import botocore.session
import httpx
import orjson
import pytest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from providers import (
    InvalidCredentials,
    PermanentError,
    Provider,
    ProviderError,
    RetryableError,
    SendResult,
)
from providers.ses import (
    SEND_EMAIL_PATH,
    SES_ERRORS,
    SIGNING_NAME,
    SESProvider,
    endpoint_url,
    sign_request,
)
from providers.ses._credentials import SESCredentials
from sandbox.ses import SESSandbox
from schemas.notification import NotificationRequest
from tests.helpers import make_settings
from tests.unit.providers.contract import contract_tests
from tests.unit.providers.email_common import (
    CONTENTS,
    PDF_BYTES,
    RECIPIENT,
    EmailHarness,
    make_request,
    success_test,
    validation_test,
)
from tests.unit.providers.harness import (
    answering,
    assert_declared,
    fallback_test,
    offline,
    refusal,
    transport_test,
)

REGION = "eu-west-1"
ACCESS_KEY = "AKIAHERALDSANDBOX01"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSANDBOXKEY"
SENDER = "orders@herald.example"


def credentials(secret: str = SECRET, **extra: Any) -> SESCredentials:
    return SESCredentials.model_validate(
        {
            "region": REGION,
            "accessKeyId": ACCESS_KEY,
            "secretAccessKey": secret,
            "fromEmail": SENDER,
            "fromName": "Acme Orders",
            "replyTo": "help@herald.example",
            "configurationSet": "herald",
            **extra,
        }
    )


class SandboxHarness(EmailHarness):
    sandbox: SESSandbox
    url_setting = "ses_endpoint_url"
    invalid_email = "ana@localhost"

    def provider(
        self,
        *,
        bad_credentials: bool = False,
        timeout_seconds: float | None = None,
        **creds: Any,
    ) -> Provider[Any]:
        settings = self.settings(timeout_seconds)
        secret = "not-the-secret" if bad_credentials else SECRET
        return SESProvider(credentials(secret, **creds), http=self.http, settings=settings)

    def unreachable_provider(self) -> Provider[Any]:
        return SESProvider(credentials(), http=self.http, settings=self.unreachable_settings())

    async def assert_delivered(
        self, content_type: str, request: NotificationRequest, result: SendResult
    ) -> None:
        mail = self.recorded(result, "MessageId")
        assert result.provider_message_id.endswith("-000000")
        assert mail.account == ACCESS_KEY
        assert mail.sender == f"Acme Orders <{SENDER}>"
        assert mail.to == (RECIPIENT,)
        assert mail.reply_to == "help@herald.example"
        content = request.content
        assert (mail.subject, mail.text, mail.html) == (content.subject, content.body, content.html)
        assert mail.custom == {"herald_tenant": "acme", "herald_notification": request.id}
        assert mail.request["ConfigurationSetName"] == "herald"
        self.assert_attachments(content_type, mail.attachments)

    def inject_retryable_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(
            request.recipient.email or "",
            429,
            "TooManyRequestsException",
            "Maximum sending rate exceeded.",
        )

    def inject_permanent_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(
            request.recipient.email or "", 400, "MessageRejected", "Message rejected by policy."
        )


@asynccontextmanager
async def running_sandbox(**account: Any) -> AsyncIterator[SandboxHarness]:
    sandbox = SESSandbox(region=REGION)
    options: dict[str, Any] = {
        "verified_identities": ["herald.example"],
        "configuration_sets": ["herald"],
        **account,
    }
    sandbox.add_account(ACCESS_KEY, SECRET, **options)
    async with SandboxHarness.serving(sandbox) as harness:
        yield harness


TestSESContract = contract_tests("TestSESContract", SESProvider, running_sandbox)


# --- against the fake: identities, SigV4 ---------------------------------------------------


async def send_error(harness: SandboxHarness, **creds: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await harness.provider(**creds).send(make_request(CONTENTS["text"]))
    return caught.value


async def test_unverified_sender_is_message_rejected() -> None:
    async with running_sandbox(verified_identities=["other.example"]) as h:
        error = await send_error(h)
    assert isinstance(error, PermanentError)
    assert not isinstance(error, InvalidCredentials)
    assert error.code == "MessageRejected"
    assert "Email address is not verified" in error.message
    assert SENDER in error.message


async def test_unknown_configuration_set_is_not_found() -> None:
    async with running_sandbox(configuration_sets=[]) as h:
        error = await send_error(h)
    assert isinstance(error, PermanentError)
    assert error.code == "NotFoundException"


@pytest.mark.parametrize(
    ("creds", "code"),
    [
        ({"accessKeyId": "AKIAUNKNOWN"}, "UnrecognizedClientException"),
        ({"secretAccessKey": "wrong"}, "InvalidSignatureException"),
        ({"region": "us-east-1"}, "InvalidSignatureException"),
        ({"sessionToken": "unexpected"}, "UnrecognizedClientException"),
    ],
)
async def test_refused_signatures_are_invalid_credentials(creds: dict[str, Any], code: str) -> None:
    async with running_sandbox() as h:
        error = await send_error(h, **creds)
    assert isinstance(error, InvalidCredentials)
    assert error.code == code
    assert h.sandbox.messages == []


async def test_session_tokens_are_signed_and_checked() -> None:
    async with running_sandbox() as h:
        h.sandbox.add_account(
            "ASIATEMPORARY",
            "temp-secret",
            session_token="FwoGZXIv",
            verified_identities=["herald.example"],
            configuration_sets=["herald"],
        )
        temporary = {"accessKeyId": "ASIATEMPORARY", "secretAccessKey": "temp-secret"}
        result = await h.provider(**temporary, sessionToken="FwoGZXIv").send(
            make_request(CONTENTS["text"])
        )
        assert h.sandbox.message(result.provider_message_id) is not None
        error = await send_error(h, **temporary)
    assert error.code == "UnrecognizedClientException"


async def test_a_tampered_body_fails_the_signature_check() -> None:
    async with running_sandbox() as h:
        url = h.url + SEND_EMAIL_PATH
        body = orjson.dumps({"FromEmailAddress": SENDER})
        headers = sign_request(
            "POST",
            url,
            body,
            {"Content-Type": "application/json"},
            credentials=Credentials(ACCESS_KEY, SECRET),
            region=REGION,
            service=SIGNING_NAME,
        )
        tampered = await h.http.post(url, content=body + b" ", headers=headers)
        unsigned = await h.http.post(url, content=body)
    assert tampered.status_code == 403
    assert tampered.headers["x-amzn-ErrorType"].startswith("InvalidSignatureException:")
    assert "does not match the signature you provided" in tampered.json()["message"]
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"


async def test_botocore_client_agrees_with_the_fake() -> None:
    """AWS's own SDK signs requests the fake accepts and parses the fake's answers."""
    async with running_sandbox() as h:
        client = botocore.session.get_session().create_client(
            "sesv2",
            region_name=REGION,
            endpoint_url=h.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 1}),
        )
        message = {
            "Destination": {"ToAddresses": [RECIPIENT]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": "hi"},
                    "Body": {"Text": {"Data": "hello"}},
                    "Attachments": [{"FileName": "a.pdf", "RawContent": PDF_BYTES}],
                }
            },
        }
        sent = await asyncio.to_thread(
            client.send_email, FromEmailAddress=f"Acme <{SENDER}>", **message
        )
        with pytest.raises(ClientError) as caught:
            await asyncio.to_thread(
                client.send_email, FromEmailAddress="x@unverified.example", **message
            )
        client.close()
    mail = h.sandbox.message(sent["MessageId"])
    assert mail is not None
    assert mail.attachments[0].data == PDF_BYTES
    assert caught.value.response["Error"]["Code"] == "MessageRejected"
    assert isinstance(caught.value, client.exceptions.MessageRejected)


# --- format_payload / validate ------------------------------------------------------------


def offline_provider(handler: Any = None, **creds: Any) -> SESProvider:
    provider: SESProvider = offline(SESProvider, credentials(**creds), handler)
    return provider


def test_format_payload_matches_send_email() -> None:
    request = make_request(CONTENTS["attachment"], tenantId="acme:eu")
    assert offline_provider().format_payload(request) == {
        "FromEmailAddress": f"Acme Orders <{SENDER}>",
        "Destination": {"ToAddresses": [RECIPIENT]},
        "ReplyToAddresses": ["help@herald.example"],
        "ConfigurationSetName": "herald",
        "Content": {
            "Simple": {
                "Subject": {"Data": "Your invoice", "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": "Attached.", "Charset": "UTF-8"},
                    "Html": {"Data": "<p>Attached.</p>", "Charset": "UTF-8"},
                },
                "Attachments": [
                    {
                        "RawContent": base64.b64encode(PDF_BYTES).decode(),
                        "FileName": "invoice.pdf",
                        "ContentType": "application/pdf",
                        "ContentDisposition": "ATTACHMENT",
                        "ContentTransferEncoding": "BASE64",
                    }
                ],
            }
        },
        "EmailTags": [
            {"Name": "herald_tenant", "Value": "acme_eu"},
            {"Name": "herald_notification", "Value": request.id},
        ],
    }


def test_a_non_ascii_sender_name_is_mime_encoded() -> None:
    payload = offline_provider(fromName="Loja São João").format_payload(
        make_request(CONTENTS["text"])
    )
    encoded, _, address = payload["FromEmailAddress"].rpartition(" ")
    assert encoded.isascii()
    assert encoded.startswith("=?utf-8?")
    assert str(make_header(decode_header(encoded))) == "Loja São João"
    assert address == f"<{SENDER}>"


def test_endpoint_template_takes_the_region() -> None:
    template = make_settings().ses_endpoint_url
    assert endpoint_url(template, "eu-west-1") == "https://email.eu-west-1.amazonaws.com"
    assert endpoint_url("http://127.0.0.1:9/", "eu-west-1") == "http://127.0.0.1:9"


test_validate_rejects = validation_test(offline_provider)


# --- the error table ----------------------------------------------------------------------


def aws_error(status: int, error_type: str, *, header: bool = True) -> httpx.Response:
    headers = {"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/"} if header else {}
    body = {"message": f"{error_type} happened"}
    if not header:
        body["__type"] = f"com.amazonaws.sesv2#{error_type}"
    return httpx.Response(status, content=orjson.dumps(body), headers=headers)


async def send_against(response: httpx.Response | Exception) -> ProviderError:
    def check(request: httpx.Request) -> None:
        assert request.url == f"https://email.{REGION}.amazonaws.com{SEND_EMAIL_PATH}"
        authorization = request.headers["Authorization"]
        assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
        assert f"/{REGION}/ses/aws4_request" in authorization
        assert "X-Amz-Date" in request.headers

    return await refusal(
        offline_provider(answering(response, check)), make_request(CONTENTS["text"])
    )


@pytest.mark.parametrize("error_type", sorted(SES_ERRORS))
async def test_every_table_type_maps_as_declared(error_type: str) -> None:
    spec = SES_ERRORS[error_type]
    for header in (True, False):
        error = await send_against(aws_error(400, error_type, header=header))
        assert error.code == error_type
        assert_declared(error, spec)
        assert error.message == f"{error_type} happened"


test_unknown_errors_fall_back_on_the_status = fallback_test(
    send_against,
    [
        (500, b"<html>", RetryableError, "http_500"),
        (429, b"", RetryableError, "http_429"),
        (403, b"no", InvalidCredentials, "http_403"),
        (404, b"not found", PermanentError, "http_404"),
        (400, b'{"__type": "SomethingNew", "message": "m"}', PermanentError, "SomethingNew"),
        (503, b'{"__type": "SomethingNew"}', RetryableError, "SomethingNew"),
        (200, b"not json", RetryableError, "provider_unavailable"),
        (200, b'{"MessageId": 5}', RetryableError, "provider_unavailable"),
    ],
)


test_success_returns_the_message_id = success_test(
    offline_provider,
    httpx.Response(200, json={"MessageId": "0100018f-abc-000000"}),
    "0100018f-abc-000000",
)


test_transport_errors_are_translated = transport_test(send_against)
