"""The whatsapp-business provider: the contract against the real fake over loopback,
payload formatting and validation. The Graph error table: test_whatsapp_business_errors.py."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from providers import (
    InvalidRequest,
    PermanentError,
    Provider,
    RetryableError,
    SendResult,
)
from providers.whatsapp_business import (
    PENDING_UPLOAD,
    WhatsAppBusinessCredentials,
    WhatsAppBusinessProvider,
)
from sandbox import GRAPH_VERSION, WhatsAppBusinessSandbox
from schemas.notification import NotificationRequest
from tests.unit.providers.contract import FakeServiceHarness, ProviderContract
from tests.unit.providers.harness import (
    notification,
    offline,
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
        sent = self.sandbox.message(result.provider_message_id)
        assert sent is not None, "the fake did not record the returned wamid"
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


class TestWhatsAppBusinessContract(ProviderContract):
    provider_class = WhatsAppBusinessProvider
    open_harness = staticmethod(running_sandbox)


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


# --- format_payload / validate ------------------------------------------------------------


def offline_provider(handler: Any = None, **settings: Any) -> WhatsAppBusinessProvider:
    provider: WhatsAppBusinessProvider = offline(
        WhatsAppBusinessProvider,
        credentials(),
        handler,
        whatsapp_business_api_url="https://graph.test/v23.0",
        **settings,
    )
    return provider


@pytest.mark.parametrize("content_type", list(CONTENTS))
def test_format_payload_matches_the_cloud_api(content_type: str) -> None:
    payload = offline_provider().format_payload(make_request(CONTENTS[content_type]))
    assert payload == expected_body(content_type)


def test_text_with_a_url_asks_for_a_preview() -> None:
    payload = offline_provider().format_payload(make_request({"body": "see https://x.io"}))
    assert payload["text"] == {"preview_url": True, "body": "see https://x.io"}


def test_kind_follows_the_seed_order_media_location_contact_text() -> None:
    provider = offline_provider()
    everything = {
        "body": "caption",
        "media": CONTENTS["image"]["media"],
        "location": CONTENTS["location"]["location"],
        "contact": CONTENTS["contacts"]["contact"],
    }
    assert provider.format_payload(make_request(everything))["type"] == "image"
    del everything["media"]
    assert provider.format_payload(make_request(everything))["type"] == "location"
    del everything["location"]
    assert provider.format_payload(make_request(everything))["type"] == "contacts"
    del everything["contact"]
    assert provider.format_payload(make_request(everything))["type"] == "text"


@pytest.mark.parametrize(
    ("mimetype", "kind"),
    [
        ("image/png", "image"),
        ("video/mp4", "video"),
        ("audio/mpeg", "audio"),
        ("application/pdf", "document"),
        ("text/plain", "document"),
    ],
)
def test_media_kind_comes_from_the_mimetype(mimetype: str, kind: str) -> None:
    request = make_request({"media": {"url": "https://x.io/f", "mimetype": mimetype}})
    assert offline_provider().format_payload(request)["type"] == kind


def test_audio_takes_no_caption_and_only_documents_take_a_filename() -> None:
    provider = offline_provider()
    audio = {"url": "https://x.io/a.ogg", "caption": "c", "filename": "a.ogg"}
    assert provider.format_payload(make_request({"media": audio}))["audio"] == {
        "link": "https://x.io/a.ogg"
    }
    image = {"url": "https://x.io/a.png", "caption": "c", "filename": "a.png"}
    assert provider.format_payload(make_request({"media": image}))["image"] == {
        "link": "https://x.io/a.png",
        "caption": "c",
    }


def test_inline_media_before_upload_carries_the_placeholder() -> None:
    request = make_request({"media": {"base64": PNG, "mimetype": "image/png"}})
    provider = offline_provider()
    assert provider.format_payload(request)["image"] == {"id": PENDING_UPLOAD}
    assert provider.format_payload(request, media_id="42")["image"] == {"id": "42"}


@pytest.mark.parametrize(
    ("phone", "content", "code"),
    [
        (None, {"body": "hi"}, "invalid_recipient"),
        ("123", {"body": "hi"}, "invalid_recipient"),
        ("0055 11 98765 4321", {"body": "hi"}, "invalid_recipient"),
        (RECIPIENT, {}, "unsupported_content"),
        (RECIPIENT, {"body": "   "}, "unsupported_content"),
        (RECIPIENT, {"subject": "s", "html": "<p>x</p>"}, "unsupported_content"),
        (RECIPIENT, {"body": "x" * 4097}, "invalid_request"),
        (RECIPIENT, {"media": {"base64": "not base64!!"}}, "invalid_request"),
        (RECIPIENT, {"media": {"url": "ftp://x.io/a.png"}}, "invalid_request"),
        (RECIPIENT, {"contact": {"contactId": "nobody"}}, "unsupported_content"),
    ],
)
def test_validate_rejects(phone: str | None, content: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        offline_provider().validate(make_request(content, phone=phone))
    assert caught.value.code == code
