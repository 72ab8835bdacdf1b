"""The mailgun provider: the contract against the fake over loopback, regions, the form
fields, validation, and the error table (httpx.MockTransport)."""

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
from providers.mailgun import MAILGUN_ERRORS, MailgunProvider
from providers.mailgun._credentials import MailgunCredentials
from sandbox.mailgun import MailgunSandbox
from schemas.notification import NotificationRequest
from schemas.settings import Settings
from tests.unit.providers.contract import contract_tests
from tests.unit.providers.email_common import (
    CONTENTS,
    PDF_BYTES,
    RECIPIENT,
    EmailHarness,
    form_fields,
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
    unreachable_url,
)

DOMAIN = "mg.herald.example"
API_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SIGNING_KEY = "whsec-mailgun-sandbox"
SENDER = f"orders@{DOMAIN}"


def credentials(api_key: str = API_KEY, **extra: Any) -> MailgunCredentials:
    return MailgunCredentials.model_validate(
        {
            "apiKey": api_key,
            "domain": DOMAIN,
            "webhookSigningKey": SIGNING_KEY,
            "fromEmail": SENDER,
            "fromName": "Acme Orders",
            "replyTo": "help@herald.example",
            **extra,
        }
    )


class SandboxHarness(EmailHarness):
    sandbox: MailgunSandbox
    url_setting = "mailgun_api_url"
    invalid_email = None

    def settings(self, timeout_seconds: float | None = None, **overrides: Any) -> Settings:
        """The base's settings, the EU region unreachable unless given."""
        return super().settings(
            timeout_seconds, **{"mailgun_eu_api_url": unreachable_url(), **overrides}
        )

    def provider(
        self, *, bad_credentials: bool = False, timeout_seconds: float | None = None
    ) -> Provider[Any]:
        creds = credentials("key-wrong" if bad_credentials else API_KEY)
        return MailgunProvider(creds, http=self.http, settings=self.settings(timeout_seconds))

    def unreachable_provider(self) -> Provider[Any]:
        return MailgunProvider(credentials(), http=self.http, settings=self.unreachable_settings())

    async def assert_delivered(
        self, content_type: str, request: NotificationRequest, result: SendResult
    ) -> None:
        mail = self.recorded(result, "id")
        assert not result.provider_message_id.startswith("<")
        assert result.provider_message_id.endswith(f"@{DOMAIN}")
        assert mail.account == DOMAIN
        assert mail.sender == f"Acme Orders <{SENDER}>"
        assert mail.to == (RECIPIENT,)
        assert mail.reply_to == "help@herald.example"
        content = request.content
        assert (mail.subject, mail.text, mail.html) == (content.subject, content.body, content.html)
        assert mail.custom == {"herald_tenant": "acme", "herald_notification": request.id}
        self.assert_attachments(content_type, mail.attachments)

    def inject_retryable_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(
            request.recipient.email or "", 429, "Too many requests", headers={"Retry-After": "2"}
        )

    def inject_permanent_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(
            request.recipient.email or "",
            400,
            "to parameter is not a valid address. please check documentation",
        )


@asynccontextmanager
async def running_sandbox(region: str = "us") -> AsyncIterator[SandboxHarness]:
    sandbox = MailgunSandbox(region=region)
    sandbox.add_domain(DOMAIN, api_key=API_KEY, webhook_signing_key=SIGNING_KEY)
    async with SandboxHarness.serving(sandbox) as harness:
        yield harness


TestMailgunContract = contract_tests("TestMailgunContract", MailgunProvider, running_sandbox)


# --- against the fake: regions, domains, auth ------------------------------------------


async def test_eu_region_uses_the_eu_base_url() -> None:
    async with running_sandbox("eu") as eu, running_sandbox("us") as us:
        settings = us.settings(mailgun_eu_api_url=eu.url)
        provider = MailgunProvider(credentials(region="eu"), http=eu.http, settings=settings)
        result = await provider.send(make_request(CONTENTS["text"]))
        assert eu.sandbox.message(result.provider_message_id) is not None
        assert us.sandbox.messages == []


async def test_unknown_domain_is_domain_not_found() -> None:
    async with running_sandbox() as h:
        provider = h.provider()
        provider.credentials = credentials(domain="mg.other.example")
        with pytest.raises(InvalidCredentials) as caught:
            await provider.send(make_request(CONTENTS["text"]))
    assert caught.value.code == "domain_not_found"
    assert "mg.other.example" in caught.value.message


async def test_wrong_key_gets_mailguns_401_forbidden() -> None:
    async with running_sandbox() as h:
        url = f"{h.url}/v3/{DOMAIN}/messages"
        answer = await h.http.post(url, data={"to": RECIPIENT}, auth=("api", "key-wrong"))
        missing = await h.http.post(
            url, data={"to": RECIPIENT, "subject": "s"}, auth=("api", API_KEY)
        )
    assert (answer.status_code, answer.text) == (401, "Forbidden")
    assert missing.status_code == 400
    assert missing.json() == {"message": "from parameter is missing"}


async def test_retry_after_is_honoured() -> None:
    async with running_sandbox() as h:
        h.sandbox.fail(RECIPIENT, 429, "Too many requests", headers={"Retry-After": "4"})
        with pytest.raises(RetryableError) as caught:
            await h.provider().send(make_request(CONTENTS["text"]))
    assert caught.value.code == "too_many_requests"
    assert caught.value.retry_after == 4


# --- format_payload / validate ------------------------------------------------------------


def offline_provider(handler: Any = None, **creds: Any) -> MailgunProvider:
    provider: MailgunProvider = offline(MailgunProvider, credentials(**creds), handler)
    return provider


def test_format_payload_is_mailguns_form() -> None:
    request = make_request(CONTENTS["attachment"])
    payload = offline_provider().format_payload(request)
    assert payload.fields == {
        "from": f"Acme Orders <{SENDER}>",
        "to": RECIPIENT,
        "subject": "Your invoice",
        "text": "Attached.",
        "html": "<p>Attached.</p>",
        "h:Reply-To": "help@herald.example",
        "v:herald_tenant": "acme",
        "v:herald_notification": request.id,
    }
    assert payload.files == [("attachment", ("invoice.pdf", PDF_BYTES, "application/pdf"))]


test_validate_rejects = validation_test(offline_provider)


# --- the error table ----------------------------------------------------------------------


async def send_against(response: httpx.Response | Exception, **creds: Any) -> ProviderError:
    def check(request: httpx.Request) -> None:
        assert request.url == f"https://api.mailgun.net/v3/{DOMAIN}/messages"
        basic = base64.b64encode(f"api:{API_KEY}".encode()).decode()
        assert request.headers["Authorization"] == f"Basic {basic}"
        assert form_fields(request)["to"] == RECIPIENT

    return await refusal(
        offline_provider(answering(response, check), **creds), make_request(CONTENTS["text"])
    )


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (400, "to parameter is not a valid address. please check documentation", "bad_request"),
        (401, None, "unauthorized"),
        (402, "Request failed", "request_failed"),
        (403, "Domain sandbox.mailgun.org is not allowed to send", "forbidden"),
        (404, f"Domain not found: {DOMAIN}", "domain_not_found"),
        (404, None, "not_found"),
        (413, "Message too large", "payload_too_large"),
        (429, "Too many requests", "too_many_requests"),
        (500, "Internal error", "server_error"),
        (502, None, "bad_gateway"),
        (503, None, "service_unavailable"),
        (504, None, "gateway_timeout"),
    ],
)
async def test_every_documented_error_maps_as_the_table_says(
    status: int, message: str | None, code: str
) -> None:
    spec = MAILGUN_ERRORS[code]
    body = orjson.dumps({"message": message}) if message else b"Forbidden"
    error = await send_against(httpx.Response(status, content=body))
    assert error.code == code
    assert_declared(error, spec)
    if message:
        assert message in error.message


test_unreadable_bodies_fall_back_on_the_status = fallback_test(
    send_against,
    [
        (599, b"", RetryableError, "http_599"),
        (418, b"<html>", PermanentError, "http_418"),
        (200, b"<html>", RetryableError, "provider_unavailable"),
        (200, b'{"message": "Queued. Thank you."}', RetryableError, "provider_unavailable"),
    ],
)


test_success_returns_the_id_without_angle_brackets = success_test(
    offline_provider,
    httpx.Response(
        200, json={"id": f"<20240203123456.1A2B@{DOMAIN}>", "message": "Queued. Thank you."}
    ),
    f"20240203123456.1A2B@{DOMAIN}",
)


test_transport_errors_are_translated = transport_test(send_against)
