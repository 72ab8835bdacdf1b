"""Records of the WhatsApp Web simulator: linked devices, messages, codes, session counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "Device",
    "IncomingMessage",
    "PendingCode",
    "PendingLinkCode",
    "SentMessage",
    "SessionStats",
]


@dataclass(slots=True)
class Device:
    """A page that was paired by a scan: WhatsApp's "linked device" of ``phone``.

    ``public_key`` is the DER SPKI of the key pair the page generated when it was paired;
    the page proves it still holds the private half at every login.
    """

    device_id: str
    phone: str
    public_key: bytes = field(repr=False)
    linked_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "deviceId": self.device_id,
            "phone": self.phone,
            "wid": f"{self.phone}@c.us",
            "linkedAt": self.linked_at.isoformat(),
        }


@dataclass(slots=True)
class SentMessage:
    """A message a paired page sent, as "the phone" of the recipient sees it.

    ``id`` is the serialized message key the page's ``send*Message`` returned
    (``true_<chat>_<key id>``), i.e. Herald's ``providerMessageId``. ``acks`` lists every
    ack that happened, in order; ``ack`` is the latest.
    """

    id: str
    key_id: str
    from_phone: str
    device_id: str
    to: str
    chat_id: str
    type: str
    t: int
    sent_at: datetime
    body: str | None = None
    caption: str | None = None
    filename: str | None = None
    mimetype: str | None = None
    size: int | None = None
    media: bytes | None = field(default=None, repr=False)
    location: dict[str, Any] | None = None
    contacts: list[dict[str, str]] | None = None
    vcard: str | None = None
    ack: int = 1
    acks: list[int] = field(default_factory=lambda: [1])

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "keyId": self.key_id,
            "from": self.from_phone,
            "deviceId": self.device_id,
            "to": self.to,
            "chatId": self.chat_id,
            "type": self.type,
            "t": self.t,
            "sentAt": self.sent_at.isoformat(),
            "ack": self.ack,
            "acks": list(self.acks),
        }
        optional = {
            "body": self.body,
            "caption": self.caption,
            "filename": self.filename,
            "mimetype": self.mimetype,
            "size": self.size,
            "location": self.location,
            "contact": self.contacts[0] if self.contacts else None,
            "contacts": self.contacts,
            "vcard": self.vcard,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        return data


@dataclass(slots=True)
class IncomingMessage:
    """A message "a phone" wrote to a session (``POST /phone/incoming``)."""

    id: str
    key_id: str
    to: str
    from_phone: str
    body: str
    t: int
    notify_name: str | None = None
    delivered: int = 0

    def page_payload(self) -> dict[str, Any]:
        return {
            "id": self.key_id,
            "from": f"{self.from_phone}@c.us",
            "to": f"{self.to}@c.us",
            "body": self.body,
            "type": "chat",
            "t": self.t,
            "notifyName": self.notify_name,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "keyId": self.key_id,
            "to": self.to,
            "from": self.from_phone,
            "body": self.body,
            "t": self.t,
            "notifyName": self.notify_name,
            "delivered": self.delivered,
        }


@dataclass(frozen=True, slots=True)
class PendingCode:
    """An auth code a page is showing right now (what its QR holds)."""

    full_code: str
    ref: str
    index: int
    page_id: str
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "fullCode": self.full_code,
            "ref": self.ref,
            "index": self.index,
            "pageId": self.page_id,
            "expiresAt": self.expires_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PendingLinkCode:
    """A pairing code a page asked for (``WPP.conn.genLinkDeviceCodeForPhoneNumber``).

    ``code`` is as WhatsApp hands it out: 8 characters, no dash; phones show ``ABCD-EFGH``.
    Only the phone of ``phone`` can enter it.
    """

    code: str
    phone: str
    page_id: str
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "code": f"{self.code[:4]}-{self.code[4:]}",
            "phone": self.phone,
            "pageId": self.page_id,
            "expiresAt": self.expires_at.isoformat(),
        }


@dataclass(slots=True)
class SessionStats:
    """Logged-in page connections of one phone: now and the most ever at one moment.

    ``open`` counts pages logged in (including those showing a conflict); ``live`` those
    logged in and not in conflict. Herald keeps at most one browser per tenant, so a
    ``max_concurrent`` above 1 for a phone means two sessions ran at the same time.
    """

    phone: str
    open: int = 0
    live: int = 0
    max_concurrent: int = 0
    max_live: int = 0
    logins: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "phone": self.phone,
            "open": self.open,
            "live": self.live,
            "maxConcurrent": self.max_concurrent,
            "maxLive": self.max_live,
            "logins": self.logins,
        }
