"""What the email providers share: request checks, attachments, the HTTP call.

An email notification needs ``recipient.email`` (a valid address, else
``invalid_recipient``), ``content.subject`` and at least one of ``content.body`` (the text
part) and ``content.html`` (else ``unsupported_content``). ``content.media`` becomes one
attachment when it is inline (``base64``); media by ``url`` is refused with
``unsupported_content`` (Herald does not fetch URLs on a producer's behalf). ``location``
and ``contact`` are ignored by email.
"""

from __future__ import annotations

import base64
import binascii
import logging
import mimetypes
import re
from dataclasses import dataclass
from email.utils import formataddr

from schemas.credentials_base import normalize_email
from schemas.errors import (
    InvalidRequest,
)
from schemas.notification import Media, NotificationRequest
from schemas.status import ErrorCode

__all__ = [
    "EMAIL_CONTENT_TYPES",
    "Attachment",
    "EmailMessage",
    "email_message",
    "format_address",
    "recipient_email",
]

logger = logging.getLogger(__name__)

#: The content types every email provider declares (``ProviderInfo.content_types``).
EMAIL_CONTENT_TYPES = ("text", "html", "attachment")

_FALLBACK_MIMETYPE = "application/octet-stream"
_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f"]+')
#: Everything a mail client, a header folder or ``str.splitlines`` may take for a line end
#: (CR, LF, VT, FF, FS, GS, RS, NEL, U+2028, U+2029), and the other C0 controls but tab.
_LINE_BREAKS = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    mimetype: str
    data: bytes

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """A request reduced to what an email carries (all checked)."""

    to: str
    subject: str
    text: str | None
    html: str | None
    attachments: tuple[Attachment, ...] = ()


def recipient_email(request: NotificationRequest) -> str:
    """``recipient.email`` in ASCII form, or :class:`InvalidRequest` ``invalid_recipient``."""
    raw = request.recipient.email
    if not raw or not raw.strip():
        raise InvalidRequest(ErrorCode.INVALID_RECIPIENT.value, "email needs recipient.email")
    try:
        return normalize_email(raw)
    except ValueError as exc:
        raise InvalidRequest(
            ErrorCode.INVALID_RECIPIENT.value, f"recipient.email is {exc}"
        ) from None


def _attachment(media: Media) -> Attachment:
    if not media.base64:
        raise InvalidRequest(
            ErrorCode.UNSUPPORTED_CONTENT.value,
            "email attachments must be inline (content.media.base64); media by url is not fetched",
        )
    raw = media.base64
    if raw.startswith("data:") and "," in raw:  # tolerate a data: URL prefix
        raw = raw.split(",", 1)[1]
    try:
        data = base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            ErrorCode.INVALID_REQUEST.value, "content.media.base64 is not valid base64"
        ) from exc
    if not data:
        raise InvalidRequest(ErrorCode.INVALID_REQUEST.value, "content.media.base64 is empty")
    mimetype = (media.mimetype or "").split(";", 1)[0].strip().lower()
    if not mimetype and media.filename:
        mimetype = mimetypes.guess_type(media.filename, strict=False)[0] or ""
    mimetype = mimetype or _FALLBACK_MIMETYPE
    basename = re.split(r"[/\\]", media.filename or "")[-1]
    filename = _UNSAFE_FILENAME.sub("_", basename).strip(" .")
    if not filename:
        extension = mimetypes.guess_extension(mimetype, strict=False) or ".bin"
        filename = f"attachment{extension}"
    return Attachment(filename=filename, mimetype=mimetype, data=data)


def email_message(request: NotificationRequest) -> EmailMessage:
    """Check ``request`` for the email channel; :class:`InvalidRequest` says what is wrong."""
    to = recipient_email(request)
    content = request.content
    subject = (content.subject or "").strip()
    if not subject:
        raise InvalidRequest(ErrorCode.UNSUPPORTED_CONTENT.value, "email needs content.subject")
    if _LINE_BREAKS.search(subject):
        raise InvalidRequest(
            ErrorCode.INVALID_REQUEST.value, "content.subject must be a single line"
        )
    text = content.body if content.body and content.body.strip() else None
    html = content.html if content.html and content.html.strip() else None
    if text is None and html is None:
        raise InvalidRequest(
            ErrorCode.UNSUPPORTED_CONTENT.value, "email needs content.body or content.html"
        )
    attachments = (_attachment(content.media),) if content.media is not None else ()
    return EmailMessage(to=to, subject=subject, text=text, html=html, attachments=attachments)


def format_address(email: str, name: str | None) -> str:
    """``Name <email>`` (RFC 5322; a non-ASCII name becomes an RFC 2047 encoded word)."""
    return formataddr((name, email)) if name else email
