"""A faithful local fake of Mailgun's Messages API (one region) and its signed webhooks.

``POST /v3/{domain}/messages`` checks basic auth ``api:<API key>`` (a wrong key gets
``401 Forbidden``), that the domain exists in this region for that key (else ``404
{"message": "Domain not found: ..."}``), and the form fields (url-encoded or multipart:
``from``, ``to``, ``subject``, ``text``/``html``, ``attachment`` files, ``h:`` headers, ``v:``
variables), then answers ``200 {"id": "<...@domain>", "message": "Queued. Thank you."}``.
Webhooks are JSON ``{"signature": {timestamp, token, signature}, "event-data": {...}}``
signed with the domain's HTTP webhook signing key.

Control (besides ``/_sandbox/messages`` and ``/_sandbox/webhooks``)::

    POST /_sandbox/events   {"messageId": "...", "event": "delivered", "severity": "permanent"}
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses, parseaddr
from functools import partial
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from multidict import MultiDictProxy

from sandbox._base import email_address
from sandbox._email import EmailFault, EmailSandbox, ReceivedAttachment, SentEmail
from sandbox._email import json_response as _json
from sandbox._signatures import mailgun_signature

__all__ = ["MailgunDomain", "MailgunSandbox"]


@dataclass(slots=True)
class MailgunDomain:
    name: str
    api_key: str
    webhook_signing_key: str
    webhook_url: str | None = None
    auto_events: tuple[str, ...] = ()


def _problem(status: int, message: str) -> web.Response:
    return _json({"message": message}, status)


def _delivery_status(
    code: int, message: str, *, retry_seconds: int | None = None
) -> dict[str, Any]:
    """The ``delivery-status`` of a failed event's first attempt, as Mailgun writes it."""
    status: dict[str, Any] = {"code": code, "message": message, "description": "", "attempt-no": 1}
    if retry_seconds is not None:
        status["retry-seconds"] = retry_seconds
    return status


def _valid(address: str) -> bool:
    try:
        email_address(address)
    except ValueError:
        return False
    return True


class MailgunSandbox(EmailSandbox):
    """The fake Messages API of one region (``us`` or ``eu``): domains, mails, events."""

    unavailable = (503, b'{"message": "Service Unavailable"}', "application/json")

    def __init__(self, *, region: str = "us", auto_event_delay: float = 0.05) -> None:
        super().__init__(client_max_size=26 * 1024 * 1024)
        self.region = region
        self.domains: dict[str, MailgunDomain] = {}
        self.auto_event_delay = auto_event_delay
        self.app.router.add_post("/v3/{domain}/messages", self._messages)
        self.app.router.add_post("/_sandbox/events", self._control_event)

    def add_domain(
        self,
        name: str,
        *,
        api_key: str,
        webhook_signing_key: str,
        webhook_url: str | None = None,
        auto_events: Iterable[str] = (),
    ) -> MailgunDomain:
        domain = MailgunDomain(
            name.lower(), api_key, webhook_signing_key, webhook_url, tuple(auto_events)
        )
        self.domains[domain.name] = domain
        return domain

    def fail(
        self,
        to: str,
        http_status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        times: int | None = None,
    ) -> EmailFault:
        """Answer mails for ``to`` with a Mailgun error body."""
        body = orjson.dumps({"message": message})
        fault = EmailFault(http_status=http_status, body=body, headers=headers or {}, times=times)
        return self.add_fault(to, fault)

    # --- webhooks -----------------------------------------------------------------------

    def event_data(
        self, mail: SentEmail, name: str, *, severity: str | None = None
    ) -> dict[str, Any]:
        """``event-data`` for ``mail`` shaped as Mailgun's webhooks send it."""
        recipient = mail.to[0]
        data: dict[str, Any] = {
            "event": name,
            "id": secrets.token_urlsafe(16),
            "timestamp": time.time(),
            "log-level": "info",
            "recipient": recipient,
            "recipient-domain": recipient.rsplit("@", 1)[-1],
            "envelope": {
                "transport": "smtp",
                "sender": parseaddr(mail.sender)[1],
                "targets": recipient,
            },
            "message": {
                "headers": {
                    "to": recipient,
                    "message-id": mail.id,
                    "from": mail.sender,
                    "subject": mail.subject,
                },
                "attachments": [],
                "size": len(mail.text or "") + len(mail.html or ""),
            },
            "flags": {"is-authenticated": True, "is-test-mode": False, "is-routed": False},
            "tags": [],
            "campaigns": [],
            "user-variables": dict(mail.custom),
        }
        if name == "delivered":
            data["delivery-status"] = {
                "tls": True,
                "mx-host": "mx.example.net",
                "code": 250,
                "description": "",
                "session-seconds": 0.4,
                "message": "OK",
                "attempt-no": 1,
            }
        elif name == "failed":
            severity = severity or "permanent"
            data["log-level"] = "error" if severity == "permanent" else "warn"
            data["severity"] = severity
            if severity == "permanent":
                data["reason"] = "bounce"
                data["delivery-status"] = _delivery_status(
                    550, "5.1.1 The email account that you tried to reach does not exist."
                )
            else:
                data["reason"] = "generic"
                data["delivery-status"] = _delivery_status(
                    452,
                    "4.2.2 The email account that you tried to reach is over quota.",
                    retry_seconds=600,
                )
        elif name == "opened":
            data["ip"] = "203.0.113.7"
            data["client-info"] = {"client-type": "browser", "client-name": "Chrome"}
        return data

    def signed_body(
        self,
        domain: MailgunDomain,
        event_data: dict[str, Any],
        *,
        sign_with: str | None = None,
        timestamp: int | None = None,
        token: str | None = None,
    ) -> bytes:
        """A webhook body for ``event_data`` signed with the domain's key (or ``sign_with``)."""
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        token = token or secrets.token_hex(25)
        signature = mailgun_signature(stamp, token, sign_with or domain.webhook_signing_key)
        return orjson.dumps(
            {
                "signature": {"token": token, "timestamp": stamp, "signature": signature},
                "event-data": event_data,
            }
        )

    async def post_body(self, domain: MailgunDomain, body: bytes, *, url: str | None = None) -> int:
        """POST a webhook body to the domain's webhook URL; returns the receiver's status."""
        target = url or domain.webhook_url
        if not target:
            raise LookupError(f"domain {domain.name!r} has no webhook_url")
        headers = {"Content-Type": "application/json", "User-Agent": "mailgun/treq-16.12.0"}
        return await self.deliver_webhook(target, body, headers)

    async def post_event(
        self, message_id: str, name: str, *, severity: str | None = None, **signing: Any
    ) -> int:
        """POST a signed webhook for an accepted mail (``signing``: see :meth:`signed_body`)."""
        mail = self.message(message_id)
        if mail is None:
            raise LookupError(f"unknown message id {message_id!r}")
        domain = self.domains[mail.account]
        data = self.event_data(mail, name, severity=severity)
        return await self.post_body(domain, self.signed_body(domain, data, **signing))

    # --- the API ------------------------------------------------------------------------

    def _domain(self, request: web.Request) -> MailgunDomain | web.Response:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            user, _, key = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, ValueError):
            user = key = ""
        keys = {d.api_key for d in self.domains.values()}
        if (
            scheme.lower() != "basic"
            or user != "api"
            or not any(hmac.compare_digest(key, k) for k in keys)
        ):
            return web.Response(status=401, text="Forbidden")
        name = request.match_info["domain"].lower()
        domain = self.domains.get(name)
        if domain is None or not hmac.compare_digest(domain.api_key, key):
            return _problem(404, f"Domain not found: {name}")
        return domain

    async def _messages(self, request: web.Request) -> web.Response:
        domain = self._domain(request)
        if isinstance(domain, web.Response):
            return domain
        form = await request.post()
        checked = _check_form(form)
        if isinstance(checked, web.Response):
            return checked
        recipients, attachments = checked
        faulted = await self.apply_fault(recipients)
        if faulted is not None:
            return faulted
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        message_id = f"<{stamp}.{secrets.token_hex(8).upper()}@{domain.name}>"
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        mail = self.record(
            SentEmail(
                id=message_id.strip().removeprefix("<").removesuffix(">").strip(),
                account=domain.name,
                sender=fields["from"],
                to=recipients,
                subject=fields["subject"],
                text=fields.get("text"),
                html=fields.get("html"),
                reply_to=fields.get("h:Reply-To"),
                attachments=attachments,
                custom={k[2:]: v for k, v in fields.items() if k.startswith("v:")},
                request=fields,
            )
        )
        if domain.auto_events and domain.webhook_url:
            steps = [partial(self.post_event, mail.id, name) for name in domain.auto_events]
            self.schedule(steps, delay=self.auto_event_delay, what=f"mailgun {mail.id}")
        return _json({"id": message_id, "message": "Queued. Thank you."})

    async def _control_event(self, request: web.Request) -> web.Response:
        try:
            data = orjson.loads(await request.read())
            message_id, name = str(data["messageId"]), str(data["event"])
            severity = data.get("severity")
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return _json({"error": "expected {messageId, event, severity?}"}, 400)
        try:
            status = await self.post_event(message_id, name, severity=severity)
        except LookupError as exc:
            return _json({"error": str(exc)}, 404)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _json({"error": f"webhook receiver unreachable: {type(exc).__name__}"}, 502)
        return _json({"webhookStatus": status})


def _check_form(
    form: MultiDictProxy[str | bytes | bytearray | web.FileField],
) -> tuple[tuple[str, ...], tuple[ReceivedAttachment, ...]] | web.Response:
    """The recipients and attachments of a valid form, else Mailgun's 400."""
    for name in ("from", "to", "subject"):
        if not isinstance(form.get(name), str) or not str(form.get(name)).strip():
            return _problem(400, f"{name} parameter is missing")
    sender = parseaddr(str(form["from"]))[1]
    if not _valid(sender):
        return _problem(400, "from parameter is not a valid address. please check documentation")
    to_values = [v for v in form.getall("to") if isinstance(v, str)]
    recipients = tuple(address for _, address in getaddresses(to_values))
    if not recipients or not all(_valid(r) for r in recipients):
        return _problem(400, "to parameter is not a valid address. please check documentation")
    if not any(isinstance(form.get(k), str) and form.get(k) for k in ("text", "html", "template")):
        return _problem(
            400,
            "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified",
        )
    attachments = []
    for value in form.getall("attachment", []):
        if not isinstance(value, web.FileField):
            return _problem(400, "attachment must be sent as a file (multipart/form-data)")
        attachments.append(
            ReceivedAttachment(value.filename, value.content_type, value.file.read())
        )
    return recipients, tuple(attachments)
