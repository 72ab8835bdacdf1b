"""Turning a request into one wa-js call (pure, no I/O).

The content type is detected as the seed says: media, then location, then contact,
else text. Each type maps to one ``WPP.chat.*`` function of the contract
(``providers.wppconnect._contract``); the chat id is the recipient's WhatsApp id
(``<digits>@c.us``), replaced at send time by the id ``WPP.contact.queryExists``
returns.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from providers._phone import sanitize_phone
from schemas.errors import InvalidRequest
from schemas.notification import Content, NotificationRequest

__all__ = ["WppCall", "build_call", "content_type", "to_wid"]

USER_SERVER = "c.us"


def to_wid(phone_or_id: str | None) -> str:
    """A phone number (any human spelling) or a WhatsApp id -> ``<digits>@c.us``."""
    raw = (phone_or_id or "").strip(" ")
    if raw.endswith("@" + USER_SERVER):
        raw = raw[: -len(USER_SERVER) - 1]
    return f"{sanitize_phone(raw)}@{USER_SERVER}"


def content_type(content: Content) -> str:
    """``media``, ``location``, ``contact`` or ``text``, in the seed's order."""
    if content.media is not None:
        return "media"
    if content.location is not None:
        return "location"
    if content.contact is not None:
        return "contact"
    return "text"


@dataclass(frozen=True, slots=True)
class WppCall:
    """``WPP.<function>(chatId, *args)``: what one notification becomes."""

    function: str
    chat_id: str
    args: tuple[Any, ...]
    kind: str

    def summary(self) -> dict[str, Any]:
        return {"function": self.function, "type": self.kind}


def _unsupported(message: str) -> InvalidRequest:
    return InvalidRequest("unsupported_content", message)


def build_call(request: NotificationRequest) -> WppCall:
    """The wa-js call for ``request``; raises :class:`InvalidRequest` if it cannot be sent."""
    chat_id = to_wid(request.recipient.phone)
    content = request.content
    kind = content_type(content)
    if kind == "media":
        media = content.media
        assert media is not None
        if not media.base64:
            raise _unsupported("wppconnect sends inline media only: content.media.base64")
        data = media.base64.strip()
        if data.startswith("data:"):
            header, _, payload = data.partition(",")
            mimetype = media.mimetype or header[5:].split(";", 1)[0] or None
        else:
            payload, mimetype = data, media.mimetype
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequest("invalid_request", "content.media.base64 is not base64") from exc
        mimetype = mimetype or "application/octet-stream"
        options: dict[str, Any] = {"type": "auto-detect", "mimetype": mimetype}
        if media.filename:
            options["filename"] = media.filename
        caption = media.caption or content.body
        if caption:
            options["caption"] = caption
        data_url = f"data:{mimetype};base64,{payload}"
        return WppCall("chat.sendFileMessage", chat_id, (data_url, options), kind)
    if kind == "location":
        loc = content.location
        assert loc is not None
        options = {"lat": loc.latitude, "lng": loc.longitude}
        if loc.name:
            options["name"] = loc.name
        if loc.address:
            options["address"] = loc.address
        return WppCall("chat.sendLocationMessage", chat_id, (options,), kind)
    if kind == "contact":
        contact = content.contact
        assert contact is not None
        try:
            contact_wid = to_wid(contact.contact_id)
        except InvalidRequest as exc:
            raise _unsupported(
                "content.contact.contactId must be a phone number or a WhatsApp id"
            ) from exc
        card = {"id": contact_wid, "name": contact.name or contact_wid.split("@", 1)[0]}
        return WppCall("chat.sendVCardContactMessage", chat_id, (card,), kind)
    if not content.body or not content.body.strip():
        raise _unsupported("a text message needs content.body")
    return WppCall("chat.sendTextMessage", chat_id, (content.body, {}), kind)
