"""Notification request -> Cloud API message body (pure functions, no I/O).

Shapes follow Meta's "Messages" reference: one ``type`` and the object of that name
(``text``, ``image``, ``video``, ``audio``, ``document``, ``location``, ``contacts``).
The kind is chosen in the seed's order: media, then location, then contact, else text.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from typing import Any, Literal

from providers._phone import sanitize_phone
from schemas.errors import InvalidRequest
from schemas.notification import Contact, Content, Media, NotificationRequest

__all__ = [
    "MAX_CAPTION_CHARS",
    "MAX_TEXT_CHARS",
    "PENDING_UPLOAD",
    "MediaKind",
    "MessageKind",
    "build_message",
    "check_content",
    "decode_media",
    "media_kind",
    "media_mimetype",
    "message_kind",
]

MessageKind = Literal["image", "video", "audio", "document", "location", "contacts", "text"]
MediaKind = Literal["image", "video", "audio", "document"]

#: Meta's limits: text bodies up to 4096 characters, media captions up to 1024.
MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024

#: Media ``id`` placeholder in a formatted payload whose inline media is not uploaded yet.
PENDING_UPLOAD = "<pending-upload>"

_NON_DIGITS = re.compile(r"[^0-9]+")
_URL = re.compile(r"https?://", re.IGNORECASE)
_FALLBACK_MIMETYPE = "application/octet-stream"


def media_mimetype(media: Media) -> str:
    """The declared mimetype, else one guessed from the filename or URL path."""
    if media.mimetype:
        return media.mimetype.strip().lower()
    for name in (media.filename, media.url):
        if name:
            guessed, _ = mimetypes.guess_type(name.split("?", 1)[0], strict=False)
            if guessed:
                return guessed
    return _FALLBACK_MIMETYPE


def media_kind(media: Media) -> MediaKind:
    """image/*, video/* and audio/* map to their own types; anything else is a document."""
    major = media_mimetype(media).split("/", 1)[0]
    if major == "image":
        return "image"
    if major == "video":
        return "video"
    if major == "audio":
        return "audio"
    return "document"


def message_kind(content: Content) -> MessageKind | None:
    """Which Cloud API message ``content`` becomes, or ``None`` if nothing is sendable."""
    if content.media is not None:
        return media_kind(content.media)
    if content.location is not None:
        return "location"
    if content.contact is not None:
        return "contacts"
    if content.body and content.body.strip():
        return "text"
    return None


def decode_media(media: Media) -> bytes:
    """The bytes of inline media; ``invalid_request`` when they are not valid base64."""
    raw = media.base64 or ""
    if raw.startswith("data:") and "," in raw:  # tolerate a data: URL prefix
        raw = raw.split(",", 1)[1]
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("invalid_request", "content.media.base64 is not valid base64") from exc
    if not data:
        raise InvalidRequest("invalid_request", "content.media.base64 is empty")
    return data


def _contact_digits(contact: Contact) -> str:
    """A contact id is a phone number or a WhatsApp id such as ``5511999999999@c.us``."""
    digits = _NON_DIGITS.sub("", contact.contact_id.split("@", 1)[0])
    if not 5 <= len(digits) <= 15:
        raise InvalidRequest(
            "unsupported_content", "content.contact.contactId must be a phone number"
        )
    return digits


def check_content(content: Content) -> MessageKind:
    """Raise :class:`InvalidRequest` unless ``content`` makes one valid Cloud API message."""
    kind = message_kind(content)
    if kind is None:
        raise InvalidRequest(
            "unsupported_content",
            "whatsapp-business needs content.body, media, location or contact",
        )
    if kind == "text" and len(content.body or "") > MAX_TEXT_CHARS:
        raise InvalidRequest("invalid_request", f"content.body exceeds {MAX_TEXT_CHARS} characters")
    if content.media is not None:
        if content.media.base64:
            decode_media(content.media)
        elif not _URL.match(content.media.url or ""):
            raise InvalidRequest("invalid_request", "content.media.url must be http(s)")
        caption = _caption(content)
        if caption is not None and len(caption) > MAX_CAPTION_CHARS:
            raise InvalidRequest(
                "invalid_request", f"media caption exceeds {MAX_CAPTION_CHARS} characters"
            )
    if kind == "contacts" and content.contact is not None:
        _contact_digits(content.contact)
    return kind


def _caption(content: Content) -> str | None:
    """The media caption; the body stands in for it so that no text is lost."""
    media = content.media
    if media is None:
        return None
    return media.caption or content.body or None


def _media_object(content: Content, kind: MediaKind, media_id: str | None) -> dict[str, Any]:
    media = content.media
    assert media is not None
    obj: dict[str, Any] = {"link": media.url} if media.url else {"id": media_id or PENDING_UPLOAD}
    caption = _caption(content)
    if caption and kind != "audio":  # audio messages take no caption
        obj["caption"] = caption
    if kind == "document" and media.filename:
        obj["filename"] = media.filename
    return obj


def build_message(request: NotificationRequest, *, media_id: str | None = None) -> dict[str, Any]:
    """The JSON body for ``POST /{phone-number-id}/messages``.

    ``media_id`` is the id returned by the media upload for inline (base64) media; until
    it is known the media object carries :data:`PENDING_UPLOAD`.
    """
    content = request.content
    kind = check_content(content)
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": sanitize_phone(request.recipient.phone),
        "type": kind,
    }
    if kind == "text":
        text = content.body or ""
        body["text"] = {"preview_url": bool(_URL.search(text)), "body": text}
    elif kind == "location":
        location = content.location
        assert location is not None
        obj: dict[str, Any] = {"latitude": location.latitude, "longitude": location.longitude}
        if location.name:
            obj["name"] = location.name
        if location.address:
            obj["address"] = location.address
        body["location"] = obj
    elif kind == "contacts":
        contact = content.contact
        assert contact is not None
        digits = _contact_digits(contact)
        name = (contact.name or "").strip() or f"+{digits}"
        body["contacts"] = [
            {
                "name": {"formatted_name": name, "first_name": name},
                "phones": [{"phone": f"+{digits}", "wa_id": digits, "type": "CELL"}],
            }
        ]
    else:
        body[kind] = _media_object(content, kind, media_id)
    return body
