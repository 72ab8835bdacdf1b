"""What the email fakes (SendGrid, SES, Mailgun) share: records, faults, waiting, webhooks.

A subclass registers the service's routes on :attr:`EmailSandbox.app` and calls
:meth:`EmailSandbox.record` for each accepted mail; faults are keyed by recipient address
(``*``: every recipient). Control endpoints common to the three fakes::

    GET    /_sandbox/messages   accepted mails (``?to=`` filters), without attachment bytes
    DELETE /_sandbox/messages   forget mails and delivered webhooks
    GET    /_sandbox/webhooks   webhooks delivered so far, with the receiver's status
    POST   /_sandbox/faults     {"to", "httpStatus", "body", "hang", "delaySeconds", "times"}
    DELETE /_sandbox/faults     remove every fault
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from aiohttp import web

from sandbox._base import SandboxBase, json_response

__all__ = [
    "EmailFault",
    "EmailSandbox",
    "PostedWebhook",
    "ReceivedAttachment",
    "SentEmail",
    "json_response",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ReceivedAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SentEmail:
    """A mail the fake accepted, as the service understood it, plus the raw request."""

    id: str
    account: str
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str | None
    html: str | None
    reply_to: str | None = None
    attachments: tuple[ReceivedAttachment, ...] = ()
    custom: dict[str, str] = field(default_factory=dict)
    request: Any = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": self.account,
            "from": self.sender,
            "to": list(self.to),
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "replyTo": self.reply_to,
            "attachments": [
                {"filename": a.filename, "contentType": a.content_type, "size": len(a.data)}
                for a in self.attachments
            ],
            "custom": self.custom,
            "receivedAt": self.received_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PostedWebhook:
    url: str
    body: bytes
    headers: dict[str, str]
    http_status: int


@dataclass(slots=True)
class EmailFault:
    """What to do to mails for one recipient instead of accepting them.

    ``delay`` seconds pass first (``math.inf``: never answer, until the server stops);
    then ``body`` is answered with ``http_status``, or, with no body, the mail is handled
    normally. ``times`` limits how many requests the fault applies to (``None``: all).
    """

    http_status: int = 500
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float | None = None
    times: int | None = None


class EmailSandbox(SandboxBase[EmailFault]):
    """Base of the email fakes: accepted mails, faults, waiting and webhook delivery."""

    #: Answered when a held request is released by shutdown: (status, body, content type).
    unavailable: tuple[int, bytes, str] = (503, b"Service Unavailable", "text/plain")

    def __init__(self, *, client_max_size: int = 32 * 1024 * 1024) -> None:
        super().__init__()
        self.messages: list[SentEmail] = []
        self.webhooks: list[PostedWebhook] = []
        self.app = web.Application(client_max_size=client_max_size)
        self.serve_lifecycle(self.app)
        self.app.router.add_get("/_sandbox/messages", self._list_messages)
        self.app.router.add_get("/_sandbox/webhooks", self._list_webhooks)
        self.app.router.add_post("/_sandbox/faults", self._add_fault)
        self.add_clearing_routes(self.app)

    # --- faults -------------------------------------------------------------------------

    def hang(self, to: str, seconds: float = math.inf, *, times: int | None = None) -> EmailFault:
        """Delay mails for ``to`` by ``seconds`` (default: never answer)."""
        return self.add_fault(to, EmailFault(delay=seconds, times=times))

    def garble(
        self, to: str, *, http_status: int = 200, body: bytes = b"<html>oops</html>"
    ) -> EmailFault:
        """Answer mails for ``to`` with ``body`` (not the service's) and ``http_status``."""
        return self.add_fault(
            to, EmailFault(http_status=http_status, body=body, content_type="text/html")
        )

    def clear_messages(self) -> None:
        self.messages.clear()
        self.webhooks.clear()

    async def apply_fault(self, recipients: tuple[str, ...]) -> web.Response | None:
        """The response a fault for one of ``recipients`` calls for, else ``None``."""
        fault = self.take_fault(*recipients)
        if fault is None:
            return None
        if await self.hold(fault):
            status, body, content_type = self.unavailable
            return web.Response(status=status, body=body, content_type=content_type)
        if fault.body is None:
            return None
        return web.Response(
            status=fault.http_status,
            body=fault.body,
            headers={"Content-Type": fault.content_type, **fault.headers},
        )

    # --- records and waiting (tests) ----------------------------------------------------

    def record(self, mail: SentEmail) -> SentEmail:
        self.messages.append(mail)
        self.notify()
        return mail

    def message(self, message_id: str) -> SentEmail | None:
        return next((m for m in self.messages if m.id == message_id), None)

    async def wait_for_messages(self, count: int = 1) -> list[SentEmail]:
        await self.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)

    # --- webhooks -----------------------------------------------------------------------

    async def deliver_webhook(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST ``body`` to ``url``; returns the receiver's HTTP status (also recorded)."""
        status = await self.post_webhook(url, body, headers)
        self.webhooks.append(PostedWebhook(url, body, headers, status))
        self.notify()
        return status

    # --- control endpoints --------------------------------------------------------------

    async def _list_messages(self, request: web.Request) -> web.Response:
        to = request.query.get("to", "").strip().lower()
        found = [m.summary() for m in self.messages if not to or to in (t.lower() for t in m.to)]
        return json_response({"messages": found})

    async def _add_fault(self, request: web.Request) -> web.Response:
        """``{"to", "httpStatus", "body", "contentType", "hang", "delaySeconds", "times"}``."""
        try:
            data = orjson.loads(await request.read())
            to = str(data["to"])
            body = data.get("body")
            delay = data.get("delaySeconds")
            fault = EmailFault(
                http_status=int(data.get("httpStatus", 500)),
                body=body.encode() if isinstance(body, str) else None,
                content_type=str(data.get("contentType", "application/json")),
                delay=math.inf if data.get("hang") else (float(delay) if delay else None),
                times=int(data["times"]) if data.get("times") else None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return json_response({"error": "expected {to, httpStatus?, body?, hang?, ...}"}, 400)
        self.add_fault(to, fault)
        return json_response({"to": to}, 201)

    async def _list_webhooks(self, _: web.Request) -> web.Response:
        hooks = [
            {"url": w.url, "body": w.body.decode("utf-8", "replace"), "httpStatus": w.http_status}
            for w in self.webhooks
        ]
        return json_response({"webhooks": hooks})
