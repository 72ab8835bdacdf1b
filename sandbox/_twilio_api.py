"""What the fake Twilio API checks and answers: errors, the Message resource, callbacks.

Shapes follow Twilio's public REST API reference (Messages resource, error
dictionary) and its status-callback parameters.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from sandbox._base import json_response

__all__ = [
    "API_VERSION",
    "MAX_BODY_CHARS",
    "CheckedMessage",
    "TwilioFault",
    "authenticate_failed",
    "callback_params",
    "check_message",
    "error_body",
    "message_resource",
    "new_sid",
    "segments",
    "twilio_json",
]

API_VERSION = "2010-04-01"
MAX_BODY_CHARS = 1600
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_ALPHANUMERIC_SENDER = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
_SHORT_CODE = re.compile(r"^\d{3,7}$")

# GSM 03.38 basic character set and extension table: such texts fit 160 per segment.
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "^{}\\[~]|€\x0c"
)


def new_sid(prefix: str) -> str:
    """A Twilio SID: two letters + 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def segments(body: str) -> int:
    """SMS segments a body takes: 160/153 GSM-7 characters, else 70/67 UCS-2 characters."""
    single, multi = (160, 153) if set(body) <= _GSM7 else (70, 67)
    return 1 if len(body) <= single else math.ceil(len(body) / multi)


def error_body(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def twilio_json(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return json_response(body, status, {"Twilio-Request-Id": new_sid("RQ"), **(headers or {})})


class TwilioFault(Exception):
    """A Twilio error to answer with."""

    def __init__(self, http_status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        headers = {}
        if self.http_status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return twilio_json(
            error_body(self.code, self.message, self.http_status), self.http_status, headers
        )


def authenticate_failed() -> TwilioFault:
    return TwilioFault(401, 20003, "Authenticate")


@dataclass(frozen=True, slots=True)
class CheckedMessage:
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None


def _one(form: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [value for key, value in form if key == name]
    return values[-1] if values else None


def check_message(form: Sequence[tuple[str, str]], senders: frozenset[str]) -> CheckedMessage:
    """Validate a Messages create request as Twilio does; :class:`TwilioFault` otherwise.

    ``senders`` are the From values the account owns (empty: any well-formed sender).
    """
    to = (_one(form, "To") or "").strip()
    if not to:
        raise TwilioFault(400, 21604, "A 'To' phone number is required.")
    if not _E164.match(to):
        raise TwilioFault(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    sender = (_one(form, "From") or "").strip() or None
    service = (_one(form, "MessagingServiceSid") or "").strip() or None
    if sender is None and service is None:
        raise TwilioFault(400, 21603, "A 'From' phone number is required.")
    if sender is not None:
        if not (
            _E164.match(sender) or _SHORT_CODE.match(sender) or _ALPHANUMERIC_SENDER.match(sender)
        ):
            raise TwilioFault(
                400,
                21212,
                f"The 'From' number {sender} is not a valid phone number, shortcode, "
                "or alphanumeric sender ID.",
            )
        if senders and sender not in senders:
            raise TwilioFault(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
                "number or short code for your account.",
            )
    body = _one(form, "Body") or ""
    if not body.strip() and _one(form, "MediaUrl") is None:
        raise TwilioFault(400, 21602, "Message body is required.")
    if len(body) > MAX_BODY_CHARS:
        raise TwilioFault(
            400, 21617, "The concatenated message body exceeds the 1600 character limit."
        )
    callback = (_one(form, "StatusCallback") or "").strip() or None
    return CheckedMessage(to, sender, service, body, callback)


def message_resource(
    *,
    sid: str,
    account_sid: str,
    message: CheckedMessage,
    status: str,
    created: datetime,
) -> dict[str, Any]:
    """The Message resource JSON Twilio answers a create with."""
    stamp = format_datetime(created)
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    via_service = message.messaging_service_sid is not None
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": stamp,
        "date_sent": None,
        "date_updated": stamp,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": message.from_,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": "0",
        # With a Messaging Service the sender (hence the encoding) is not chosen yet.
        "num_segments": "0" if via_service else str(segments(message.body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {
            "media": f"{uri}/Media.json",
            "feedback": f"{uri}/Feedback.json",
        },
        "to": message.to,
        "uri": f"{uri}.json",
    }


def callback_params(
    *,
    sid: str,
    account_sid: str,
    status: str,
    to: str,
    from_: str | None,
    messaging_service_sid: str | None,
    error_code: int | None,
) -> list[tuple[str, str]]:
    """The form parameters of a status callback, in the order Twilio sends them."""
    params = [("SmsSid", sid), ("SmsStatus", status), ("MessageStatus", status), ("To", to)]
    if messaging_service_sid:
        params.append(("MessagingServiceSid", messaging_service_sid))
    params += [("MessageSid", sid), ("AccountSid", account_sid)]
    if from_:
        params.append(("From", from_))
    params.append(("ApiVersion", API_VERSION))
    if error_code is not None:
        params.append(("ErrorCode", str(error_code)))
    return params
