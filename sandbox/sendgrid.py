"""A faithful local fake of SendGrid's v3 Mail Send API and its signed Event Webhook.

``POST /v3/mail/send`` checks the ``Authorization: Bearer <API key>``, the JSON body
(SendGrid's validation messages, all errors at once, as ``{"errors": [{"message",
"field", "help"}]}``) and the Sender Identity, then answers ``202`` with an empty body and
the id in ``X-Message-Id``. Events (``delivered``, ``open``, ``bounce``, ``dropped``, ...)
are POSTed as a JSON array signed with the account's ECDSA P-256 key, as the Signed Event
Webhook does; the account's ``public_key`` is what Herald's credentials hold.

Control (besides ``/_sandbox/messages`` and ``/_sandbox/webhooks``)::

    POST /_sandbox/events   {"messageId": "...", "event": "delivered"} -> {"webhookStatus": 200}
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sandbox._email import EmailFault, EmailSandbox, SentEmail, json_response
from sandbox._email import ReceivedAttachment as Attachment
from sandbox._sendgrid_checks import error, validate
from sandbox._signatures import SENDGRID_SIGNATURE_HEADER as SIGNATURE_HEADER
from sandbox._signatures import SENDGRID_TIMESTAMP_HEADER as TIMESTAMP_HEADER
from sandbox._signatures import sendgrid_signature as sign

__all__ = ["SendGridAccount", "SendGridSandbox"]

_UNVERIFIED_SENDER = (
    "The from address does not match a verified Sender Identity. Mail cannot be sent until "
    "this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/"
    "sender-identity/ to see the Sender Identity requirements"
)


def _errors(
    status: int, *errors: dict[str, Any], headers: dict[str, str] | None = None
) -> web.Response:
    return json_response({"errors": list(errors)}, status, headers)


@dataclass(slots=True)
class SendGridAccount:
    """An API key, the senders verified for it and its Event Webhook settings."""

    api_key: str
    verified_senders: tuple[str, ...] = ("*",)
    can_send: bool = True
    webhook_url: str | None = None
    auto_events: tuple[str, ...] = ()
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    @property
    def public_key(self) -> str:
        """The verification key as SendGrid shows it: base64 of the DER public key."""
        der = self.private_key.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def verifies(self, sender: str) -> bool:
        sender = sender.lower()
        return any(
            s == "*" or s.lower() == sender or sender.endswith("@" + s.lower().lstrip("@"))
            for s in self.verified_senders
        )


class SendGridSandbox(EmailSandbox):
    """The fake Mail Send API: accounts (API keys), accepted mails, faults, events."""

    unavailable = (503, b'{"errors":[{"message":"Service Unavailable"}]}', "application/json")

    def __init__(self, *, auto_event_delay: float = 0.05) -> None:
        super().__init__(client_max_size=31 * 1024 * 1024)
        self.accounts: dict[str, SendGridAccount] = {}
        self.auto_event_delay = auto_event_delay
        self.app.router.add_post("/v3/mail/send", self._send)
        self.app.router.add_post("/_sandbox/events", self._control_event)

    def add_account(
        self,
        api_key: str,
        *,
        verified_senders: Iterable[str] = ("*",),
        can_send: bool = True,
        webhook_url: str | None = None,
        auto_events: Iterable[str] = (),
    ) -> SendGridAccount:
        """Add (or replace) an API key; ``verified_senders`` are addresses or ``@domain``."""
        account = SendGridAccount(
            api_key=api_key,
            verified_senders=tuple(verified_senders),
            can_send=can_send,
            webhook_url=webhook_url,
            auto_events=tuple(auto_events),
        )
        self.accounts[api_key] = account
        return account

    def fail(
        self,
        to: str,
        http_status: int,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        times: int | None = None,
    ) -> EmailFault:
        """Answer mails for ``to`` with a SendGrid error body."""
        body = orjson.dumps({"errors": [error(message, field)]})
        fault = EmailFault(http_status=http_status, body=body, headers=headers or {}, times=times)
        return self.add_fault(to, fault)

    def throttle(self, to: str, *, reset_in: int = 2, times: int | None = None) -> EmailFault:
        """``429 too many requests`` with SendGrid's rate-limit headers."""
        headers = {
            "X-RateLimit-Limit": "600",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + reset_in),
        }
        return self.fail(to, 429, "too many requests", headers=headers, times=times)

    # --- events -------------------------------------------------------------------------

    def event(self, mail: SentEmail, name: str, **extra: Any) -> dict[str, Any]:
        """An event for ``mail`` shaped as the Event Webhook sends it."""
        event: dict[str, Any] = {
            "email": mail.to[0],
            "timestamp": int(time.time()),
            "smtp-id": f"<{mail.id}@ismtpd0001p1mdw1.sendgrid.net>",
            "event": name,
            "category": list(mail.request.get("categories") or []),
            "sg_event_id": secrets.token_urlsafe(16),
            "sg_message_id": (
                f"{mail.id}.filterdrecv-{secrets.token_hex(5)}-1-"
                f"{secrets.token_hex(8).upper()}-{secrets.randbelow(99)}.0"
            ),
        }
        if name == "delivered":
            event.update(response="250 2.0.0 OK", ip="149.72.1.2", tls=1)
        elif name == "open":
            event.update(useragent="Mozilla/5.0", ip="203.0.113.7", sg_machine_open=False)
        elif name == "bounce":
            event.update(
                type="bounce",
                status="5.1.1",
                reason="550 5.1.1 The email account that you tried to reach does not exist.",
                bounce_classification="Invalid Address",
            )
        elif name == "dropped":
            event.update(reason="Bounced Address", status="5.0.0")
        elif name == "deferred":
            event.update(response="451 4.7.1 Try again later", attempt="1")
        event.update(mail.custom)
        event.update(extra)
        return event

    async def post_events(
        self,
        account: SendGridAccount,
        events: list[dict[str, Any]],
        *,
        sign_with: ec.EllipticCurvePrivateKey | None = None,
        unsigned: bool = False,
        url: str | None = None,
    ) -> int:
        """POST ``events`` to the account's webhook URL, signed as SendGrid signs them."""
        target = url or account.webhook_url
        if not target:
            raise LookupError("the account has no webhook_url")
        body = orjson.dumps(events)
        headers = {"Content-Type": "application/json", "User-Agent": "SendGrid Event API"}
        if not unsigned:
            timestamp = str(int(time.time()))
            headers[SIGNATURE_HEADER] = sign(body, timestamp, sign_with or account.private_key)
            headers[TIMESTAMP_HEADER] = timestamp
        return await self.deliver_webhook(target, body, headers)

    async def post_event(self, message_id: str, name: str, **options: Any) -> int:
        """POST one event for an accepted mail (see :meth:`post_events` for ``options``)."""
        mail = self.message(message_id)
        if mail is None:
            raise LookupError(f"unknown message id {message_id!r}")
        return await self.post_events(
            self.accounts[mail.account], [self.event(mail, name)], **options
        )

    # --- the API ------------------------------------------------------------------------

    def _account(self, request: web.Request) -> SendGridAccount | web.Response:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _errors(401, error("authorization required"))
        account = self.accounts.get(key.strip())
        if account is None:
            return _errors(
                401, error("The provided authorization grant is invalid, expired, or revoked")
            )
        if not account.can_send:
            return _errors(403, error("access forbidden"))
        return account

    async def _send(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if isinstance(account, web.Response):
            return account
        if request.content_type != "application/json":
            return _errors(415, error("Content-Type should be application/json."))
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _errors(400, error("Bad Request"))
        if not isinstance(body, dict):
            return _errors(400, error("Bad Request"))
        errors = validate(body)
        if errors:
            return _errors(400, *errors)
        sender = body["from"]["email"]
        if not account.verifies(sender):
            return _errors(403, error(_UNVERIFIED_SENDER, "from"))
        recipients = tuple(t["email"] for p in body["personalizations"] for t in p["to"])
        faulted = await self.apply_fault(recipients)
        if faulted is not None:
            return faulted
        content = {c["type"]: c["value"] for c in body["content"]}
        reply_to = body.get("reply_to")
        mail = self.record(
            SentEmail(
                id=secrets.token_urlsafe(16),
                account=account.api_key,
                sender=sender,
                to=recipients,
                subject=body["subject"],
                text=content.get("text/plain"),
                html=content.get("text/html"),
                reply_to=reply_to.get("email") if isinstance(reply_to, dict) else None,
                attachments=tuple(
                    Attachment(
                        a["filename"],
                        a.get("type") or "application/octet-stream",
                        base64.b64decode(a["content"]),
                    )
                    for a in body.get("attachments") or []
                ),
                custom={str(k): str(v) for k, v in (body.get("custom_args") or {}).items()},
                request=body,
            )
        )
        if account.auto_events and account.webhook_url:
            steps = [partial(self.post_event, mail.id, name) for name in account.auto_events]
            self.schedule(steps, delay=self.auto_event_delay, what=f"sendgrid {mail.id}")
        return web.Response(status=202, headers={"X-Message-Id": mail.id})

    async def _control_event(self, request: web.Request) -> web.Response:
        try:
            data = orjson.loads(await request.read())
            message_id, name = data["messageId"], data["event"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return json_response({"error": "expected {messageId, event}"}, 400)
        try:
            status = await self.post_event(str(message_id), str(name))
        except LookupError as exc:
            return json_response({"error": str(exc)}, 404)
        return json_response({"webhookStatus": status})
