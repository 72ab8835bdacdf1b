"""The whatsapp-business provider: the contract against the real fake over loopback, and
the Graph error table (httpx.MockTransport). Payload formatting and validation:
test_whatsapp_business_payload.py."""

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
from providers.whatsapp_business import (
    GRAPH_ERRORS,
    WhatsAppBusinessCredentials,
    WhatsAppBusinessProvider,
)
from sandbox import GRAPH_VERSION, WhatsAppBusinessSandbox
from schemas.notification import NotificationRequest
from tests.unit.providers.contract import FakeServiceHarness, contract_tests
from tests.unit.providers.harness import (
    FROM_STATUS_CASES,
    answering,
    assert_declared,
    fallback_test,
    notification,
    offline,
    refusal,
    transport_test,
)

PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAG-sandbox-token"
RECIPIENT = "+55 (11) 98765-4321"
RECIPIENT_DIGITS = "5511987654321"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()


def credentials(token: str = TOKEN) -> WhatsAppBusinessCredentials:
    return WhatsAppBusinessCredentials(
        phone_number_id=PHONE_NUMBER_ID,
        access_token=token,
        app_secret="app-secret",
        verify_token="verify-token",
    )


def make_request(content: dict[str, Any], phone: str | None = RECIPIENT) -> NotificationRequest:
    return notification("whatsapp", {"phone": phone} if phone else {"userId": "u-1"}, content)


CONTENTS: dict[str, dict[str, Any]] = {
    "text": {"body": "Hello from Herald"},
    "image": {"media": {"url": "https://cdn.example/a.jpg", "mimetype": "image/jpeg"}},
    "document": {
        "media": {
            "url": "https://cdn.example/invoice.pdf",
            "mimetype": "application/pdf",
            "filename": "invoice.pdf",
            "caption": "Your invoice",
        }
    },
    "video": {"media": {"url": "https://cdn.example/v.mp4", "caption": "clip"}},
    "audio": {"media": {"url": "https://cdn.example/a.ogg", "mimetype": "audio/ogg"}},
    "location": {
        "location": {"latitude": -23.55, "longitude": -46.63, "name": "HQ", "address": "Av. X"}
    },
    "contacts": {"contact": {"contactId": "5511912345678@c.us", "name": "Ana"}},
}

#: What the Graph API must receive for each request above, besides the common fields.
EXPECTED: dict[str, dict[str, Any]] = {
    "text": {"type": "text", "text": {"preview_url": False, "body": "Hello from Herald"}},
    "image": {"type": "image", "image": {"link": "https://cdn.example/a.jpg"}},
    "document": {
        "type": "document",
        "document": {
            "link": "https://cdn.example/invoice.pdf",
            "caption": "Your invoice",
            "filename": "invoice.pdf",
        },
    },
    "video": {"type": "video", "video": {"link": "https://cdn.example/v.mp4", "caption": "clip"}},
    "audio": {"type": "audio", "audio": {"link": "https://cdn.example/a.ogg"}},
    "location": {
        "type": "location",
        "location": {"latitude": -23.55, "longitude": -46.63, "name": "HQ", "address": "Av. X"},
    },
    "contacts": {
        "type": "contacts",
        "contacts": [
            {
                "name": {"formatted_name": "Ana", "first_name": "Ana"},
                "phones": [{"phone": "+5511912345678", "wa_id": "5511912345678", "type": "CELL"}],
            }
        ],
    },
}


def expected_body(content_type: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": RECIPIENT_DIGITS,
        **EXPECTED[content_type],
    }


class SandboxHarness(FakeServiceHarness):
    sandbox: WhatsAppBusinessSandbox
    url_setting = "whatsapp_business_api_url"

    def __init__(self, sandbox: WhatsAppBusinessSandbox, http: httpx.AsyncClient, url: str):
        super().__init__(sandbox, http, url)
        self.api_url = f"{url}/{GRAPH_VERSION}"

    def provider(
        self, *, bad_credentials: bool = False, timeout_seconds: float | None = None
    ) -> Provider[Any]:
        creds = credentials("wrong-token" if bad_credentials else TOKEN)
        settings = self.settings(timeout_seconds)
        return WhatsAppBusinessProvider(creds, http=self.http, settings=settings)

    def unreachable_provider(self) -> Provider[Any]:
        settings = self.unreachable_settings()
        return WhatsAppBusinessProvider(credentials(), http=self.http, settings=settings)

    def service_url(self, base: str) -> str:
        return f"{base}/{GRAPH_VERSION}"

    def request(self, content_type: str) -> NotificationRequest:
        return make_request(CONTENTS[content_type])

    def invalid_recipient_request(self) -> NotificationRequest:
        return make_request(CONTENTS["text"], phone="12")

    async def assert_delivered(
        self, content_type: str, request: NotificationRequest, result: SendResult
    ) -> None:
        sent = self.recorded(result, "wamid")
        assert result.provider_message_id.startswith("wamid.")
        assert sent.phone_number_id == PHONE_NUMBER_ID
        assert sent.body == expected_body(content_type)
        assert result.metadata["wa_id"] == RECIPIENT_DIGITS

    def inject_retryable_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(
            request.recipient.phone or "",
            130429,
            message="(#130429) Rate limit hit",
            details="Cloud API message throughput has been reached.",
        )

    def inject_permanent_fault(self, request: NotificationRequest) -> None:
        self.sandbox.fail(request.recipient.phone or "", 131026, message="Message Undeliverable.")

    def fault_target(self, request: NotificationRequest) -> str:
        return request.recipient.phone or ""


@asynccontextmanager
async def running_sandbox() -> AsyncIterator[SandboxHarness]:
    sandbox = WhatsAppBusinessSandbox()
    sandbox.add_account(PHONE_NUMBER_ID, access_token=TOKEN, app_secret="app-secret")
    async with SandboxHarness.serving(sandbox) as harness:
        yield harness


TestWhatsAppBusinessContract = contract_tests(
    "TestWhatsAppBusinessContract", WhatsAppBusinessProvider, running_sandbox
)


# --- against the fake: what the contract does not cover ---------------------------------


async def test_inline_media_is_uploaded_then_sent_by_id() -> None:
    async with running_sandbox() as h:
        request = make_request(
            {"body": "the chart", "media": {"base64": PNG, "mimetype": "image/png"}}
        )
        result = await h.provider().send(request)
        sent = h.sandbox.message(result.provider_message_id)
        assert sent is not None
        media_id = sent.body["image"]["id"]
        assert sent.body["image"] == {"id": media_id, "caption": "the chart"}
        upload = h.sandbox.uploads[media_id]
        assert upload.mime_type == "image/png"
        assert upload.data == base64.b64decode(PNG)
        assert result.metadata["media_id"] == media_id


async def test_unsupported_inline_media_type_fails_permanently() -> None:
    async with running_sandbox() as h:
        request = make_request({"media": {"base64": PNG, "mimetype": "application/x-msdownload"}})
        with pytest.raises(PermanentError) as caught:
            await h.provider().send(request)
        assert caught.value.code == "131053"
        assert h.sandbox.messages == []


async def test_retry_after_header_is_honoured() -> None:
    async with running_sandbox() as h:
        h.sandbox.fail(RECIPIENT, 131056, http_status=400, retry_after=7)
        with pytest.raises(RetryableError) as caught:
            await h.provider().send(make_request(CONTENTS["text"]))
        assert caught.value.code == "131056"
        assert caught.value.retry_after == 7


async def test_unknown_phone_number_id_is_permanent() -> None:
    async with running_sandbox() as h:
        h.sandbox.add_account("999", access_token="other-token", app_secret="x")
        provider = h.provider()
        provider.credentials = credentials().model_copy(update={"phone_number_id": "999"})
        with pytest.raises(PermanentError) as caught:
            await provider.send(make_request(CONTENTS["text"]))
        assert caught.value.code == "100"


def offline_provider(handler: Any = None, **settings: Any) -> WhatsAppBusinessProvider:
    provider: WhatsAppBusinessProvider = offline(
        WhatsAppBusinessProvider,
        credentials(),
        handler,
        whatsapp_business_api_url="https://graph.test/v23.0",
        **settings,
    )
    return provider


# --- the error table ------------------------------------------------------------------


def graph_error(code: int, status: int = 400, **headers: str) -> httpx.Response:
    body = {
        "error": {
            "message": f"(#{code}) Title",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": "Details."},
            "fbtrace_id": "Atrace",
        }
    }
    return httpx.Response(status, content=orjson.dumps(body), headers=headers)


async def send_against(response: httpx.Response | Exception) -> ProviderError:
    def check(request: httpx.Request) -> None:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.url.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"

    return await refusal(
        offline_provider(answering(response, check)), make_request(CONTENTS["text"])
    )


@pytest.mark.parametrize("code", sorted(GRAPH_ERRORS))
async def test_every_table_code_maps_as_declared(code: int) -> None:
    spec = GRAPH_ERRORS[code]
    error = await send_against(graph_error(code))
    assert_declared(error, spec)
    assert error.code == str(code)
    assert "Details." in error.message


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        (131026, 400, False),
        (131047, 400, False),
        (132000, 400, False),
        (190, 401, False),
        (130429, 400, True),
        (131056, 400, True),
        (999999, 400, False),  # unknown 4xx: permanent
        (999999, 503, True),  # unknown 5xx: retryable
        (999999, 429, True),
        (250, 403, False),  # 200-299: permission
    ],
)
async def test_documented_examples(code: int, status: int, retryable: bool) -> None:
    error = await send_against(graph_error(code, status))
    assert isinstance(error, RetryableError) == retryable
    assert isinstance(error, PermanentError) != retryable


async def test_invalid_token_is_invalid_credentials() -> None:
    error = await send_against(graph_error(190, 401))
    assert isinstance(error, InvalidCredentials)
    assert error.code == "190"


test_unreadable_bodies_fall_back_on_the_status = fallback_test(
    send_against,
    [
        *FROM_STATUS_CASES,
        (502, b"", RetryableError, "provider_unavailable"),
        (400, b'{"error": "text"}', PermanentError, "provider_error"),
        (400, b'{"error": {"code": "x"}}', PermanentError, "provider_error"),
        (200, b"not json", RetryableError, "provider_unavailable"),
        (200, b"[]", RetryableError, "provider_unavailable"),
        (200, b'{"messages": []}', RetryableError, "provider_unavailable"),
        (200, b'{"messages": [{"id": 5}]}', RetryableError, "provider_unavailable"),
    ],
)


async def test_retry_after_is_read_from_the_header() -> None:
    error = await send_against(graph_error(130429, 429, **{"Retry-After": "3"}))
    assert isinstance(error, RetryableError)
    assert error.retry_after == 3
    error = await send_against(graph_error(130429, 429, **{"Retry-After": "soon"}))
    assert isinstance(error, RetryableError)
    assert error.retry_after is None


test_transport_errors_are_translated = transport_test(send_against)


async def test_success_returns_the_wamid() -> None:
    response = httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": RECIPIENT_DIGITS, "wa_id": RECIPIENT_DIGITS}],
            "messages": [{"id": "wamid.ABC="}],
        },
    )
    provider = offline_provider(lambda request: response)
    result = await provider.send(make_request(CONTENTS["text"]))
    assert result.provider_message_id == "wamid.ABC="
    assert result.metadata == {"type": "text", "wa_id": RECIPIENT_DIGITS}
