"""The notification request: what producers write to ``notifications.requests``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from schemas._base import TenantId, WireModel

__all__ = [
    "Channel",
    "Contact",
    "Content",
    "Location",
    "Media",
    "NotificationRequest",
    "Recipient",
]

NotificationId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
ShortText = Annotated[str, StringConstraints(max_length=1024)]


class Channel(StrEnum):
    """Delivery channels, named as the seed's lookup metadata names them."""

    EMAIL = "email"
    SMS = "sms"
    FCM = "fcm"
    WHATSAPP = "whatsapp"
    DATABASE = "database"


def _non_empty(keyword: str, *fields: str) -> dict[str, Any]:
    """A model validator's rule in the JSON Schema: ``keyword`` (``anyOf``: at least one,
    ``oneOf``: exactly one) of ``fields`` (wire names) is a non-empty string. The
    validators test truthiness, so an empty string or ``null`` counts as absent, as here.
    """
    return {
        keyword: [
            {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
            for name in fields
        ]
    }


class Recipient(WireModel):
    """Where the notification goes; which field is needed depends on the channel."""

    model_config = ConfigDict(
        json_schema_extra=_non_empty("anyOf", "phone", "email", "deviceToken", "userId")
    )

    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    device_token: Annotated[str, StringConstraints(max_length=4096)] | None = None
    user_id: Annotated[str, StringConstraints(max_length=256)] | None = None

    @model_validator(mode="after")
    def _one_address(self) -> Recipient:
        if not (self.phone or self.email or self.device_token or self.user_id):
            raise ValueError("recipient needs one of phone, email, deviceToken or userId")
        return self


class Media(WireModel):
    """An attachment, inline (``base64``) or by ``url``."""

    model_config = ConfigDict(json_schema_extra=_non_empty("oneOf", "base64", "url"))

    base64: str | None = None
    url: Annotated[str, StringConstraints(max_length=4096)] | None = None
    filename: ShortText | None = None
    mimetype: Annotated[str, StringConstraints(max_length=255)] | None = None
    caption: Annotated[str, StringConstraints(max_length=4096)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Media:
        if bool(self.base64) == bool(self.url):
            raise ValueError("media needs exactly one of base64 or url")
        return self


class Location(WireModel):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: ShortText | None = None
    address: ShortText | None = None


class Contact(WireModel):
    """A contact card: ``contactId`` is the contact's phone number or WhatsApp id."""

    contact_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    name: ShortText | None = None


class Content(WireModel):
    body: Annotated[str, StringConstraints(max_length=65536)] | None = None
    subject: ShortText | None = None
    html: str | None = None
    media: Media | None = None
    location: Location | None = None
    contact: Contact | None = None


class NotificationRequest(WireModel):
    """One notification to deliver.

    ``id`` is the idempotency key within a tenant: a request whose
    (``tenantId``, ``id``) was already accepted is not delivered again.
    """

    id: NotificationId
    tenant_id: TenantId
    channel: Channel
    provider: Annotated[str, StringConstraints(max_length=64)] | None = None
    sender: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description=(
            "which of the tenant's senders sends it: a WhatsApp Web session's `sessionName` "
            "(provider `wppconnect`); absent: the tenant's default. A name the tenant has "
            "no integration for is rejected with `unknown_sender`."
        ),
    )
    recipient: Recipient
    content: Content = Content()
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
