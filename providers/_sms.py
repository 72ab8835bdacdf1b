"""What the SMS providers share: request validation."""

from __future__ import annotations

import re
from dataclasses import dataclass

from providers._phone import sanitize_phone
from schemas.errors import InvalidRequest
from schemas.notification import NotificationRequest
from schemas.status import ErrorCode

__all__ = [
    "MAX_SMS_CHARS",
    "SmsMessage",
    "check_sms",
    "e164",
    "normalize_sender",
]

#: Both Twilio (``Body``) and SNS (one ``Publish``) accept at most 1600 characters; the
#: service splits longer texts into segments itself. The seed's ``maxMessageLength``.
MAX_SMS_CHARS = 1600

_PHONE_SPELLING = re.compile(r"\+?[0-9 ().-]+")


@dataclass(frozen=True, slots=True)
class SmsMessage:
    to: str  # E.164 with the leading "+"
    body: str


def e164(raw: str | None) -> str:
    """``+digits`` for a recipient phone; ``invalid_recipient`` when it is not E.164."""
    return "+" + sanitize_phone(raw)


def normalize_sender(sender: str) -> str:
    """A sender that is spelled like a phone number becomes ``+digits``.

    Short codes (up to 7 digits) and alphanumeric sender ids are passed as they are.
    """
    sender = sender.strip()
    digits = re.sub(r"[^0-9]", "", sender)
    if _PHONE_SPELLING.fullmatch(sender) and len(digits) >= 8:
        return "+" + digits
    return sender


def check_sms(request: NotificationRequest, max_chars: int = MAX_SMS_CHARS) -> SmsMessage:
    """The SMS to send for ``request``, or :class:`InvalidRequest`.

    * ``recipient.phone`` must be E.164 -> else ``invalid_recipient``;
    * ``content.body`` must be non-blank, and media, locations and contacts cannot
      travel by SMS -> else ``unsupported_content`` (``subject`` and ``html`` are ignored);
    * at most ``max_chars`` characters -> else ``invalid_request``.
    """
    to = e164(request.recipient.phone)
    content = request.content
    extra = [
        name
        for name, value in (
            ("media", content.media),
            ("location", content.location),
            ("contact", content.contact),
        )
        if value is not None
    ]
    if extra:
        raise InvalidRequest(
            ErrorCode.UNSUPPORTED_CONTENT.value,
            f"SMS carries text only; content.{extra[0]} cannot be sent by this channel",
        )
    body = content.body
    if body is None or not body.strip():
        raise InvalidRequest(
            ErrorCode.UNSUPPORTED_CONTENT.value, "content.body is required for SMS"
        )
    if len(body) > max_chars:
        raise InvalidRequest(
            ErrorCode.INVALID_REQUEST.value,
            f"content.body has {len(body)} characters; SMS allows at most {max_chars}",
        )
    return SmsMessage(to=to, body=body)
