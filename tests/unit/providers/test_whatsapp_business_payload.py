"""The whatsapp-business provider's payload: format_payload as the Cloud API takes it
(kinds, media, previews) and validate."""

from __future__ import annotations

from typing import Any

import pytest

from providers import InvalidRequest
from providers.whatsapp_business import PENDING_UPLOAD
from tests.unit.providers.test_whatsapp_business import (
    CONTENTS,
    PNG,
    RECIPIENT,
    expected_body,
    make_request,
    offline_provider,
)

# --- format_payload / validate ------------------------------------------------------------


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
