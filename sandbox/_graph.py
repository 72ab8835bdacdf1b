"""What the fake Graph API checks and answers: error bodies, message shapes, webhooks.

Shapes follow Meta's public Cloud API reference (messages, media, error codes and the
``messages`` webhook's status notifications).
"""

from __future__ import annotations

import base64
import re
import secrets
import string
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from sandbox._base import json_response as base_json

__all__ = [
    "MEDIA_LIMITS",
    "GraphFault",
    "check_message",
    "fault_response",
    "graph_error_body",
    "graph_json",
    "media_limit",
    "new_fbtrace_id",
    "new_wamid",
    "read_upload",
    "recipient_digits",
    "status_notification",
]

_TRACE_ALPHABET = string.ascii_letters + string.digits + "_-"


def new_fbtrace_id() -> str:
    return "A" + "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(22))


def graph_error_body(
    code: int,
    message: str,
    *,
    error_type: str = "OAuthException",
    details: str | None = None,
    subcode: int | None = None,
) -> dict[str, Any]:
    """``{"error": {...}}`` as the Graph API answers it."""
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = new_fbtrace_id()
    return {"error": error}


class GraphFault(Exception):
    """A Graph error to answer with."""

    def __init__(
        self,
        http_status: int,
        code: int,
        message: str,
        *,
        details: str | None = None,
        error_type: str = "OAuthException",
        subcode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details
        self.error_type = error_type
        self.subcode = subcode

    def body(self) -> dict[str, Any]:
        return graph_error_body(
            self.code,
            self.message,
            error_type=self.error_type,
            details=self.details,
            subcode=self.subcode,
        )


def _invalid(details: str) -> GraphFault:
    return GraphFault(400, 100, "(#100) Invalid parameter", details=details)


def _required(name: str) -> GraphFault:
    return GraphFault(400, 100, f"(#100) The parameter {name} is required.", details=None)


# --- media --------------------------------------------------------------------------------

_MB = 1024 * 1024
#: Supported upload MIME types -> size limit in bytes (Cloud API "supported media types").
MEDIA_LIMITS: Mapping[str, int] = {
    "audio/aac": 16 * _MB,
    "audio/amr": 16 * _MB,
    "audio/mpeg": 16 * _MB,
    "audio/mp4": 16 * _MB,
    "audio/ogg": 16 * _MB,
    "text/plain": 100 * _MB,
    "application/pdf": 100 * _MB,
    "application/msword": 100 * _MB,
    "application/vnd.ms-excel": 100 * _MB,
    "application/vnd.ms-powerpoint": 100 * _MB,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 * _MB,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 * _MB,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 * _MB,
    "image/jpeg": 5 * _MB,
    "image/png": 5 * _MB,
    "image/webp": 500 * 1024,
    "video/3gpp": 16 * _MB,
    "video/mp4": 16 * _MB,
}


def media_limit(mime_type: str) -> int:
    """The size limit for ``mime_type``; a :class:`GraphFault` when it is unsupported."""
    base = mime_type.split(";", 1)[0].strip().lower()
    limit = MEDIA_LIMITS.get(base)
    if limit is None:
        raise GraphFault(
            400,
            131053,
            "(#131053) Media upload error",
            details=f"Unsupported file type {base or '(none)'}",
        )
    return limit


def new_wamid(wa_id: str) -> str:
    raw = b"\x18\x0d" + wa_id.encode() + b"\x15\x02\x00\x11\x18\x12"
    raw += secrets.token_hex(9).upper().encode() + b"\x00"
    return "wamid." + base64.b64encode(raw).decode()


def graph_json(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    trace = {"x-fb-trace-id": new_fbtrace_id(), **(headers or {})}
    return base_json(body, status, trace, charset="UTF-8")


def fault_response(fault: GraphFault) -> web.Response:
    return graph_json(fault.body(), fault.http_status)


async def read_upload(request: web.Request) -> tuple[str, str | None, bytes]:
    """Read a ``/media`` upload: (MIME type, filename, bytes), or raise :class:`GraphFault`."""
    if not request.content_type.startswith("multipart/"):
        raise GraphFault(
            400, 100, "(#100) Invalid parameter", details="Upload must be multipart/form-data"
        )
    fields: dict[str, str] = {}
    data: bytes | None = None
    filename: str | None = None
    file_type = ""
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        if part.name == "file":
            data = bytes(await part.read())
            filename = part.filename
            file_type = part.headers.get("Content-Type", "")
        else:
            fields[part.name] = await part.text()
    if fields.get("messaging_product") != "whatsapp":
        raise GraphFault(400, 100, "(#100) The parameter messaging_product is required.")
    if data is None:
        raise GraphFault(400, 100, "(#100) The parameter file is required.")
    mime_type = (fields.get("type") or file_type).split(";", 1)[0].strip().lower()
    if len(data) > media_limit(mime_type):
        raise GraphFault(400, 131053, "(#131053) Media upload error", details="File is too large")
    return mime_type, filename, data


# --- messages -----------------------------------------------------------------------------

_MEDIA_KEYS: Mapping[str, frozenset[str]] = {
    "image": frozenset({"id", "link", "caption"}),
    "video": frozenset({"id", "link", "caption"}),
    "audio": frozenset({"id", "link"}),
    "document": frozenset({"id", "link", "caption", "filename"}),
    "sticker": frozenset({"id", "link"}),
}
_LOOSE_TYPES = frozenset({"template", "interactive", "reaction"})
_TYPES = frozenset({"text", "location", "contacts", *_MEDIA_KEYS, *_LOOSE_TYPES})
_NAME_PARTS = ("first_name", "last_name", "middle_name", "suffix", "prefix")
_PHONE_CHARS = re.compile(r"[\s()+\-.]")


def recipient_digits(to: str) -> str:
    return _PHONE_CHARS.sub("", to)


def _str_field(obj: Mapping[str, Any], key: str, where: str, *, max_len: int) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _invalid(f"{where}['{key}'] must be a non-empty string")
    if len(value) > max_len:
        raise _invalid(f"{where}['{key}'] is longer than {max_len} characters")
    return value


def _unknown_keys(obj: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise _invalid(f"Param {where}['{extra[0]}'] is not a valid parameter")


def _check_text(obj: Mapping[str, Any]) -> None:
    _unknown_keys(obj, frozenset({"body", "preview_url"}), "text")
    if _str_field(obj, "body", "text", max_len=4096) is None:
        raise _required("text['body']")
    if "preview_url" in obj and not isinstance(obj["preview_url"], bool):
        raise _invalid("text['preview_url'] must be a boolean")


def _check_media(kind: str, obj: Mapping[str, Any], media_exists: Callable[[str], bool]) -> None:
    _unknown_keys(obj, _MEDIA_KEYS[kind], kind)
    has_id, has_link = "id" in obj, "link" in obj
    if has_id == has_link:
        raise _invalid(f"{kind} needs exactly one of 'id' or 'link'")
    if has_link:
        link = _str_field(obj, "link", kind, max_len=2048) or ""
        if not re.match(r"https?://[^\s/]+", link):
            raise _invalid(f"{kind}['link'] must be an http(s) URL")
    else:
        media_id = obj["id"]
        if not isinstance(media_id, str) or not media_exists(media_id):
            raise _invalid(f"{kind}['id'] is not a valid media id for this phone number")
    _str_field(obj, "caption", kind, max_len=1024)
    _str_field(obj, "filename", kind, max_len=240)


def _coordinate(obj: Mapping[str, Any], key: str, bound: float) -> None:
    value = obj.get(key)
    if value is None:
        raise _required(f"location['{key}']")
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not -bound <= number <= bound:
        raise _invalid(f"location['{key}'] must be a number in [-{bound}, {bound}]")


def _check_location(obj: Mapping[str, Any]) -> None:
    _unknown_keys(obj, frozenset({"latitude", "longitude", "name", "address"}), "location")
    _coordinate(obj, "latitude", 90)
    _coordinate(obj, "longitude", 180)
    _str_field(obj, "name", "location", max_len=1024)
    _str_field(obj, "address", "location", max_len=1024)


def _check_contacts(contacts: Any) -> None:
    if not isinstance(contacts, list) or not 1 <= len(contacts) <= 257:
        raise _invalid("contacts must be a list of 1 to 257 contact objects")
    for i, contact in enumerate(contacts):
        where = f"contacts[{i}]"
        if not isinstance(contact, dict):
            raise _invalid(f"{where} must be an object")
        name = contact.get("name")
        if not isinstance(name, dict):
            raise _required(f"{where}['name']")
        if _str_field(name, "formatted_name", f"{where}['name']", max_len=1024) is None:
            raise _required(f"{where}['name']['formatted_name']")
        if not any(isinstance(name.get(part), str) and name[part] for part in _NAME_PARTS):
            raise _invalid(f"{where}['name'] needs one of {', '.join(_NAME_PARTS)}")
        phones = contact.get("phones", [])
        if not isinstance(phones, list):
            raise _invalid(f"{where}['phones'] must be a list")
        for j, phone in enumerate(phones):
            if not isinstance(phone, dict):
                raise _invalid(f"{where}['phones'][{j}] must be an object")
            _unknown_keys(phone, frozenset({"phone", "type", "wa_id"}), f"{where}['phones'][{j}]")
            for key in ("phone", "type", "wa_id"):
                _str_field(phone, key, f"{where}['phones'][{j}]", max_len=64)


def check_message(body: Any, media_exists: Callable[[str], bool]) -> tuple[str, str]:
    """Validate a ``/messages`` body; returns (``to``, ``type``) or raises :class:`GraphFault`."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object")
    product = body.get("messaging_product")
    if product is None:
        raise _required("messaging_product")
    if product != "whatsapp":
        raise _invalid("messaging_product must be 'whatsapp'")
    if body.get("recipient_type", "individual") not in ("individual", "group"):
        raise _invalid("recipient_type must be 'individual'")
    to = body.get("to")
    if to is None:
        raise _required("to")
    digits = recipient_digits(to) if isinstance(to, str) else ""
    if not digits.isdigit() or not 5 <= len(digits) <= 20:
        raise _invalid("to must be a phone number")
    kind = body.get("type", "text")  # Graph's default type is text
    if kind not in _TYPES:
        raise _invalid(f"Param type must be one of {{{', '.join(sorted(_TYPES))}}}")
    if kind not in body:
        raise _required(kind)
    obj = body[kind]
    if kind == "contacts":
        _check_contacts(obj)
        return to, kind
    if not isinstance(obj, dict):
        raise _invalid(f"{kind} must be an object")
    if kind == "text":
        _check_text(obj)
    elif kind == "location":
        _check_location(obj)
    elif kind in _MEDIA_KEYS:
        _check_media(kind, obj, media_exists)
    return to, kind


# --- webhooks -----------------------------------------------------------------------------


def status_notification(
    *,
    business_account_id: str,
    display_phone_number: str,
    phone_number_id: str,
    wamid: str,
    status: str,
    recipient_id: str,
    timestamp: int,
    conversation_id: str,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``messages`` webhook carrying one status, shaped as the Cloud API sends it."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": recipient_id,
    }
    if status in ("sent", "delivered"):  # Meta prices on sent and on one of delivered/read
        conversation: dict[str, Any] = {"id": conversation_id, "origin": {"type": "utility"}}
        if status == "sent":
            conversation["expiration_timestamp"] = str(timestamp + 24 * 3600)
        item["conversation"] = conversation
        item["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "type": "regular",
            "category": "utility",
        }
    if errors:
        item["errors"] = errors
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": business_account_id,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": display_phone_number,
                                "phone_number_id": phone_number_id,
                            },
                            "statuses": [item],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
