"""Twilio status callbacks: the ``X-Twilio-Signature`` check and status parsing.

Pure functions, no I/O. Twilio POSTs ``application/x-www-form-urlencoded`` status
callbacks to the message's ``StatusCallback`` URL with (among others) ``AccountSid``,
``MessageSid``, ``MessageStatus``, ``To``, ``From``, ``ApiVersion`` and, for failed and
undelivered messages, ``ErrorCode``. Twilio adds parameters without notice: unknown
ones are ignored (but still signed).

Signature (Twilio's "Webhooks security" guide): take the full URL exactly as Twilio
called it (scheme, host, port if any, path, query), append every POST parameter sorted
by name as ``name + value`` with no separators, HMAC-SHA1 the string with the account's
auth token, base64-encode. Herald compares in constant time and, like Twilio's helper
libraries, accepts the URL with or without an explicit default port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, urlsplit, urlunsplit

from providers.twilio._errors import TWILIO_ERRORS
from schemas.status import ErrorInfo, Status

__all__ = [
    "CALLBACK_PATH",
    "SIGNATURE_HEADER",
    "MalformedCallback",
    "StatusCallback",
    "account_sid",
    "callback_url",
    "candidate_urls",
    "compute_signature",
    "load_form",
    "parse_status_callback",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Twilio-Signature"
#: The path Herald serves status callbacks on (``{HERALD_PUBLIC_URL}/webhooks/twilio``).
CALLBACK_PATH = "/webhooks/twilio"

#: Twilio message statuses -> Herald statuses. ``queued``, ``accepted``, ``sending`` and
#: ``sent`` all mean "Twilio has it" (the router already emitted ``sent``: they are
#: duplicates, dropped by the updater). Others (``scheduled``, ``canceled``, inbound
#: ``receiving``/``received``) are not tracked.
_STATUSES: Mapping[str, Status] = {
    "queued": Status.SENT,
    "accepted": Status.SENT,
    "sending": Status.SENT,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.READ,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
}

Params = Sequence[tuple[str, str]]


class MalformedCallback(ValueError):
    """The callback body is not what Twilio sends."""


# --- signatures -------------------------------------------------------------------------


def compute_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio computes for a POST of ``params`` to ``url``."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _with_port(parts: SplitResult, port: int | None) -> str:
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def candidate_urls(url: str) -> list[str]:
    """``url`` as given, plus the same URL with its default port added or removed."""
    found = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return found
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    if default is None or not parts.hostname:
        return found
    other = _with_port(parts, None) if port == default else None
    if port is None:
        other = _with_port(parts, default)
    if other is not None and other not in found:
        found.append(other)
    return found


def verify_signature(
    urls: str | Iterable[str],
    params: Iterable[tuple[str, str]],
    header: str | None,
    auth_token: str,
) -> bool:
    """Whether ``header`` is Twilio's signature of ``params`` POSTed to one of ``urls``.

    Each URL is also tried with its default port added or removed. A missing or empty
    header or token is ``False``; comparisons are constant-time.
    """
    if not header or not auth_token:
        return False
    provided = header.strip().encode("utf-8", "replace")
    pairs = list(params)
    tried: list[str] = []
    for base in [urls] if isinstance(urls, str) else urls:
        for url in candidate_urls(base):
            if url in tried:
                continue
            tried.append(url)
            expected = compute_signature(url, pairs, auth_token).encode()
            if hmac.compare_digest(expected, provided):
                return True
    return False


def callback_url(public_url: str | None, request_url: str) -> list[str]:
    """The URLs Twilio may have signed for a callback received as ``request_url``.

    With ``HERALD_PUBLIC_URL`` set, the public base URL + the path and query received
    (a proxy in front of Herald changes the host, scheme and port Herald sees, but
    Twilio signed the public URL); then the URL as received, for deployments reached
    directly. Query strings are kept exactly as received (still URL-encoded).
    """
    received = urlsplit(request_url)
    path_qs = received.path + (f"?{received.query}" if received.query else "")
    urls: list[str] = []
    if public_url:
        urls.append(public_url.rstrip("/") + path_qs)
    if request_url not in urls:
        urls.append(request_url)
    return urls


# --- parsing ----------------------------------------------------------------------------


def load_form(raw: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a form-encoded body; :class:`MalformedCallback` if not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedCallback("callback body is not UTF-8") from exc
    try:
        return parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=200
        )
    except ValueError as exc:
        raise MalformedCallback("callback body is not form-encoded") from exc


@dataclass(frozen=True, slots=True)
class StatusCallback:
    """One message status from a callback."""

    account_sid: str
    provider_message_id: str  # the MessageSid
    status: Status
    raw_status: str
    error: ErrorInfo | None = None


def _single(params: Params, name: str) -> str | None:
    values = [value for key, value in params if key == name]
    if len(values) > 1:
        raise MalformedCallback(f"{name} appears more than once")
    return values[0] if values else None


def _required(params: Params, *names: str) -> str:
    for name in names:
        value = _single(params, name)
        if value:
            return value
    raise MalformedCallback(f"{names[0]} is required")


def account_sid(params: Params) -> str:
    """The ``AccountSid`` of a callback (to find its tenants)."""
    return _required(params, "AccountSid")


def _error(params: Params) -> ErrorInfo:
    raw = (_single(params, "ErrorCode") or "").strip()
    if not raw:
        return ErrorInfo(
            code="provider_error", message="Twilio reported a failure without an ErrorCode"
        )
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise MalformedCallback("ErrorCode must be a number")
    spec = TWILIO_ERRORS.get(int(raw))
    message = _single(params, "ErrorMessage") or (spec.description if spec else None)
    return ErrorInfo(code=raw, message=(message or f"Twilio error {raw}")[:1000], retryable=False)


def parse_status_callback(params: Params) -> StatusCallback | None:
    """The status in a callback, or ``None`` for a status Herald does not track.

    ``MessageSid``/``MessageStatus`` are read, falling back on the older
    ``SmsSid``/``SmsStatus``. ``failed`` and ``undelivered`` carry ``ErrorCode``.
    """
    sid = _required(params, "MessageSid", "SmsSid")
    if len(sid) > 64 or not (sid.isascii() and sid.isalnum()):
        raise MalformedCallback("MessageSid is not a Twilio SID")
    raw_status = _required(params, "MessageStatus", "SmsStatus").strip().lower()
    status = _STATUSES.get(raw_status)
    if status is None:
        return None
    return StatusCallback(
        account_sid=account_sid(params),
        provider_message_id=sid,
        status=status,
        raw_status=raw_status,
        error=_error(params) if status is Status.FAILED else None,
    )
