"""The sendgrid provider: the contract against the fake over loopback, the Mail Send body,
validation, and the error table (httpx.MockTransport)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from providers import (
    InvalidCredentials,
    PermanentError,
    Provider,
    ProviderError,
    RetryableError,
    SendResult,
)
from providers.sendgrid import SENDGRID_ERRORS, SendGridProvider
from providers.sendgrid._credentials import SendGridCredentials
from sandbox.sendgrid import SendGridSandbox
from schemas.notification import NotificationRequest
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

API_KEY = "SG.sandbox-key.abcdef"
SENDER = "orders@herald.example"


def credentials(api_key: str = API_KEY, **extra: Any) -> SendGridCredentials:
    return SendGridCredentials.model_validate(
        {
            "apiKey": api_key,
            "fromEmail": SENDER,
            "fromName": "Acme Orders",
            "replyTo": "help@herald.example",
            **extra,
        }
    )


class SandboxHarness(EmailHarness):
    sandbox: SendGridSandbox
    url_setting = "sendgrid_api_url"
    invalid_email = "nobody-at-all"

    def provider(
        self, *, bad_credentials: bool = False, timeout_seconds: float | None = None
    ) -> Provider[Any]:
        creds = credentials("SG.wrong" if bad_credentials else API_KEY)
        return SendGridProvider(creds, http=self.http, settings=self.settings(timeout_seconds))

    def unreachable_provider(self) -> Provider[Any]:
        settings = self.unreachable_settings()
        return SendGridProvider(credentials(), http=self.http, settings=settings)

    async def assert_delivered(
        self, content_type: str, request: NotificationRequest, result: SendResult
    ) -> None:
        mail = self.recorded(result, "X-Message-Id")
        assert mail.account == API_KEY
        assert mail.to == (RECIPIENT,)
        assert mail.sender == SENDER
        assert mail.request["from"] == {"email": SENDER, "name": "Acme Orders"}
        assert mail.reply_to == "help@herald.example"
        content = request.content
        assert mail.subject == content.subject
        assert mail.text == content.body
        assert mail.html == content.html
        assert mail.custom == {"herald_tenant": "acme", "herald_notification": request.id}
        self.assert_attachments(content_type, mail.attachments)

    def inject_retryable_fault(self, request: NotificationRequest) -> None:
        self.sandbox.throttle(request.recipient.email or "")

    def inject_permanent_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(
            request.recipient.email or "",
            400,
            "Does not contain a valid address.",
            field="personalizations.0.to.0.email",
        )


@asynccontextmanager
async def running_sandbox(**account: Any) -> AsyncIterator[SandboxHarness]:
    sandbox = SendGridSandbox()
    sandbox.add_account(API_KEY, **{"verified_senders": ["@herald.example"], **account})
    async with SandboxHarness.serving(sandbox) as harness:
        yield harness


TestSendGridContract = contract_tests("TestSendGridContract", SendGridProvider, running_sandbox)


# --- against the fake: what the contract does not cover ---------------------------------


async def test_unverified_sender_is_refused_like_sendgrid() -> None:
    async with running_sandbox(verified_senders=["someone@else.example"]) as h:
        with pytest.raises(InvalidCredentials) as caught:
            await h.provider().send(make_request(CONTENTS["text"]))
    assert caught.value.code == "sender_identity_not_verified"
    assert "verified Sender Identity" in caught.value.message
    assert h.sandbox.messages == []


async def test_key_without_mail_send_scope_is_forbidden() -> None:
    async with running_sandbox(can_send=False) as h:
        with pytest.raises(InvalidCredentials) as caught:
            await h.provider().send(make_request(CONTENTS["text"]))
    assert caught.value.code == "forbidden"


async def test_throttling_reads_x_ratelimit_reset() -> None:
    async with running_sandbox() as h:
        h.sandbox.throttle(RECIPIENT, reset_in=3)
        with pytest.raises(RetryableError) as caught:
            await h.provider().send(make_request(CONTENTS["text"]))
    assert caught.value.code == "too_many_requests"
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 3


async def test_fake_checks_the_body_like_sendgrid() -> None:
    async with running_sandbox() as h:
        url = f"{h.url}/v3/mail/send"
        auth = {"Authorization": f"Bearer {API_KEY}"}
        missing = await h.http.post(url, json={"personalizations": []}, headers=auth)
        wrong_type = await h.http.post(url, content=b"x=1", headers=auth)
        no_key = await h.http.post(url, json={})
    assert missing.status_code == 400
    fields = {e["field"] for e in missing.json()["errors"]}
    assert {"personalizations", "from", "subject", "content"} <= fields
    assert all(set(e) == {"message", "field", "help"} for e in missing.json()["errors"])
    assert wrong_type.status_code == 415
    assert no_key.status_code == 401
    assert no_key.json() == {
        "errors": [{"message": "authorization required", "field": None, "help": None}]
    }


# --- format_payload / validate ------------------------------------------------------------


def offline_provider(handler: Any = None, **creds: Any) -> SendGridProvider:
    provider: SendGridProvider = offline(
        SendGridProvider, credentials(**creds), handler, sendgrid_api_url="https://sendgrid.test"
    )
    return provider


def test_format_payload_matches_mail_send() -> None:
    request = make_request(CONTENTS["attachment"])
    payload = offline_provider(
        trackOpens=True, trackClicks=False, categories=["transactional"]
    ).format_payload(request)
    assert payload == {
        "personalizations": [{"to": [{"email": RECIPIENT}]}],
        "from": {"email": SENDER, "name": "Acme Orders"},
        "reply_to": {"email": "help@herald.example"},
        "subject": "Your invoice",
        "content": [
            {"type": "text/plain", "value": "Attached."},
            {"type": "text/html", "value": "<p>Attached.</p>"},
        ],
        "attachments": [
            {
                "content": base64.b64encode(PDF_BYTES).decode(),
                "type": "application/pdf",
                "filename": "invoice.pdf",
                "disposition": "attachment",
            }
        ],
        "custom_args": {"herald_tenant": "acme", "herald_notification": request.id},
        "categories": ["transactional"],
        "tracking_settings": {
            "open_tracking": {"enable": True},
            "click_tracking": {"enable": False},
        },
    }


def test_attachment_name_and_type_are_filled_in() -> None:
    media = {"base64": base64.b64encode(b"\x89PNG....").decode(), "mimetype": "image/png"}
    payload = offline_provider().format_payload(
        make_request({"subject": "s", "body": "b", "media": media})
    )
    assert payload["attachments"][0]["filename"] == "attachment.png"
    media = {"base64": base64.b64encode(b"abc").decode(), "filename": "../../etc/notes.txt"}
    payload = offline_provider().format_payload(
        make_request({"subject": "s", "body": "b", "media": media})
    )
    assert payload["attachments"][0]["filename"] == "notes.txt"
    assert payload["attachments"][0]["type"] == "text/plain"


test_validate_rejects = validation_test(offline_provider)


def test_validate_accepts_an_idn_domain_and_sends_it_punycoded() -> None:
    request = make_request(CONTENTS["text"], email="ana@exämple.com")
    provider = offline_provider()
    provider.validate(request)
    to = provider.format_payload(request)["personalizations"][0]["to"][0]["email"]
    assert to == "ana@xn--exmple-cua.com"


# --- the error table ----------------------------------------------------------------------


def sendgrid_error(status: int, message: str, **headers: str) -> httpx.Response:
    body = {"errors": [{"message": message, "field": None, "help": None}]}
    return httpx.Response(status, content=orjson.dumps(body), headers=headers)


async def send_against(response: httpx.Response | Exception) -> ProviderError:
    def check(request: httpx.Request) -> None:
        assert request.url == "https://sendgrid.test/v3/mail/send"
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        assert request.headers["Content-Type"] == "application/json"

    return await refusal(
        offline_provider(answering(response, check)), make_request(CONTENTS["text"])
    )


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (400, "Does not contain a valid address.", "bad_request"),
        (401, "The provided authorization grant is invalid, expired, or revoked", "unauthorized"),
        (401, "Maximum credits exceeded", "maximum_credits_exceeded"),
        (403, "access forbidden", "forbidden"),
        (
            403,
            "The from address does not match a verified Sender Identity.",
            "sender_identity_not_verified",
        ),
        (
            403,
            "You are temporarily blocked from sending emails due to repeated bad requests.",
            "temporarily_blocked",
        ),
        (404, "Not Found", "not_found"),
        (413, "Payload Too Large", "payload_too_large"),
        (415, "Content-Type should be application/json.", "unsupported_media_type"),
        (429, "too many requests", "too_many_requests"),
        (500, "An internal server error occurred.", "server_error"),
        (502, "Bad Gateway", "bad_gateway"),
        (503, "Service Unavailable", "service_unavailable"),
        (504, "Gateway Timeout", "gateway_timeout"),
    ],
)
async def test_every_documented_error_maps_as_the_table_says(
    status: int, message: str, code: str
) -> None:
    spec = SENDGRID_ERRORS[code]
    error = await send_against(sendgrid_error(status, message))
    assert error.code == code
    assert_declared(error, spec)
    assert message in error.message


test_unreadable_bodies_fall_back_on_the_status = fallback_test(
    send_against,
    [
        (500, b"<html>", RetryableError, "server_error"),
        (599, b"", RetryableError, "http_599"),
        (418, b"teapot", PermanentError, "http_418"),
        (400, b'{"errors": "text"}', PermanentError, "bad_request"),
        (202, b"", RetryableError, "provider_unavailable"),
    ],
)


test_success_returns_x_message_id = success_test(
    offline_provider,
    httpx.Response(202, headers={"X-Message-Id": "W3YyP0_5Qk2Zs3Yw6fS1ZA"}),
    "W3YyP0_5Qk2Zs3Yw6fS1ZA",
)


test_transport_errors_are_translated = transport_test(send_against)


async def test_control_endpoints_list_mails_inject_faults_and_post_events() -> None:
    async with running_sandbox() as h:
        result = await h.provider().send(make_request(CONTENTS["text"]))
        listed = (await h.http.get(f"{h.url}/_sandbox/messages", params={"to": RECIPIENT})).json()
        assert [m["id"] for m in listed["messages"]] == [result.provider_message_id]
        no_webhook = await h.http.post(
            f"{h.url}/_sandbox/events",
            json={"messageId": result.provider_message_id, "event": "delivered"},
        )
        assert no_webhook.status_code == 404
        fault = {"to": RECIPIENT, "httpStatus": 503, "body": '{"errors": [{"message": "x"}]}'}
        assert (await h.http.post(f"{h.url}/_sandbox/faults", json=fault)).status_code == 201
        with pytest.raises(RetryableError) as caught:
            await h.provider().send(make_request(CONTENTS["text"]))
        assert caught.value.code == "service_unavailable"
        assert (await h.http.delete(f"{h.url}/_sandbox/faults")).status_code == 204
        await h.provider().send(make_request(CONTENTS["text"]))
        assert len(h.sandbox.messages) == 2
