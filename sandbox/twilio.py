"""A faithful local fake of Twilio's Messages API, with signed status callbacks.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``: HTTP basic auth
(``AccountSid:AuthToken`` or ``ApiKeySid:ApiKeySecret``; anything else is Twilio's 401
``20003``), form-encoded fields checked as Twilio checks them (``To`` E.164, ``From`` or
``MessagingServiceSid``, ``Body`` up to 1600 characters), and a ``201`` with the Message
resource (``sid`` ``SM`` + 32 hex digits, ``status`` ``queued``). Status callbacks are
POSTed, form-encoded and signed (``X-Twilio-Signature``, the account's auth token), to the
message's ``StatusCallback``: automatically (``auto_statuses``) or on demand
(:meth:`TwilioSandbox.post_status`, ``POST /_sandbox/statuses``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from sandbox._base import fault_headers, raw_fault_response
from sandbox._signatures import TWILIO_SIGNATURE_HEADER as SIGNATURE_HEADER
from sandbox._signatures import twilio_signature as compute_signature
from sandbox._sms_base import SmsFault, SmsSandboxBase
from sandbox._twilio_api import (
    API_VERSION,
    CheckedMessage,
    TwilioFault,
    authenticate_failed,
    callback_params,
    check_message,
    error_body,
    message_resource,
    new_sid,
    twilio_json,
)
from sandbox._twilio_control import add_control_routes

__all__ = ["DeliveredCallback", "TwilioAccount", "TwilioMessage", "TwilioSandbox"]

logger = logging.getLogger(__name__)

#: Delivery error reported with an automatic ``failed``/``undelivered`` status.
DEFAULT_DELIVERY_ERROR = 30003


@dataclass(slots=True)
class TwilioAccount:
    """One Twilio account: its SID, auth token, API keys and owned senders."""

    account_sid: str
    auth_token: str
    api_keys: dict[str, str] = field(default_factory=dict)  # SK... -> secret
    senders: frozenset[str] = frozenset()  # empty: any well-formed From
    auto_statuses: tuple[str, ...] = ()
    delivery_error: int = DEFAULT_DELIVERY_ERROR


@dataclass(slots=True)
class TwilioMessage:
    """A message the fake accepted, with the form exactly as received."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    form: list[tuple[str, str]]
    received_at: datetime
    status: str = "queued"


@dataclass(frozen=True, slots=True)
class DeliveredCallback:
    url: str
    params: list[tuple[str, str]]
    signature: str | None
    http_status: int


class TwilioSandbox(SmsSandboxBase):
    """The fake Twilio API: accounts, recorded messages, injected faults, callbacks."""

    def __init__(self, *, auto_status_delay: float = 0.05) -> None:
        super().__init__()
        self.accounts: dict[str, TwilioAccount] = {}
        self.messages: list[TwilioMessage] = []
        self.callbacks: list[DeliveredCallback] = []
        self.auto_status_delay = auto_status_delay
        self.app = self._build_app()

    # --- setup ----------------------------------------------------------------------

    def add_account(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_keys: dict[str, str] | None = None,
        senders: frozenset[str] | set[str] | tuple[str, ...] = (),
        auto_statuses: tuple[str, ...] | list[str] = (),
        delivery_error: int = DEFAULT_DELIVERY_ERROR,
    ) -> TwilioAccount:
        """Add (or replace) an account."""
        account = TwilioAccount(
            account_sid=account_sid,
            auth_token=auth_token,
            api_keys=dict(api_keys or {}),
            senders=frozenset(senders),
            auto_statuses=tuple(auto_statuses),
            delivery_error=delivery_error,
        )
        self.accounts[account_sid] = account
        return account

    def clear_messages(self) -> None:
        self.messages.clear()
        self.callbacks.clear()

    def message(self, sid: str) -> TwilioMessage | None:
        return next((m for m in self.messages if m.sid == sid), None)

    async def wait_for_messages(self, count: int = 1) -> list[TwilioMessage]:
        """Wait until at least ``count`` messages were accepted; return them all."""
        await self.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)

    # --- status callbacks -------------------------------------------------------------

    async def post_status(
        self,
        sid: str,
        status: str,
        *,
        error_code: int | None = None,
        sign_with: str | None = None,
        unsigned: bool = False,
        url: str | None = None,
    ) -> int:
        """POST a status callback for message ``sid`` to its ``StatusCallback``; the HTTP status.

        Signed with the account's auth token, or with ``sign_with`` (a wrong token, for
        tests), or not at all with ``unsigned``. ``failed`` and ``undelivered`` carry
        ``error_code`` (default: the account's ``delivery_error``). ``url`` overrides the
        message's callback URL.
        """
        message = self.message(sid)
        if message is None:
            raise LookupError(f"unknown message sid {sid!r}")
        account = self.accounts[message.account_sid]
        target = url or message.status_callback
        if not target:
            raise LookupError(f"message {sid!r} has no StatusCallback")
        if status in ("failed", "undelivered") and error_code is None:
            error_code = account.delivery_error
        params = callback_params(
            sid=sid,
            account_sid=account.account_sid,
            status=status,
            to=message.to,
            from_=message.from_,
            messaging_service_sid=message.messaging_service_sid,
            error_code=error_code if status in ("failed", "undelivered") else None,
        )
        signature = (
            None if unsigned else compute_signature(target, params, sign_with or account.auth_token)
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        async with self.session().post(target, data=urlencode(params), headers=headers) as resp:
            await resp.read()
            http_status = resp.status
        message.status = status
        self.callbacks.append(DeliveredCallback(target, params, signature, http_status))
        self.notify()
        return http_status

    # --- the REST API -----------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(
            f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json", self._create_message
        )
        add_control_routes(app, self)
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)

        return self.serve_lifecycle(app)

    def _authenticate(self, request: web.Request) -> TwilioAccount:
        """The account of the path, if the basic-auth credentials may act on it."""
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise authenticate_failed()
        try:
            username, sep, password = (
                base64.b64decode(encoded, validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise authenticate_failed() from exc
        account = self.accounts.get(request.match_info["account_sid"])
        if not sep or account is None:
            raise authenticate_failed()
        if username == account.account_sid:
            expected = account.auth_token
        else:
            expected = account.api_keys.get(username, "")
        if not expected or not secrets.compare_digest(expected.encode(), password.encode()):
            raise authenticate_failed()
        return account

    def _fault_response(self, fault: SmsFault) -> web.Response | None:
        if fault.raw_body is not None:
            return raw_fault_response(fault, fault.http_status)
        if fault.code is None:
            return None
        code = int(fault.code) if fault.code.isdigit() else 20500
        message = fault.message or f"Sandbox fault {code}"
        body = error_body(code, message, fault.http_status)
        return twilio_json(body, fault.http_status, fault_headers(fault))

    async def _create_message(self, request: web.Request) -> web.Response:
        try:
            account = self._authenticate(request)
            try:
                form = parse_qsl((await request.read()).decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                form = []
            checked = check_message(form, account.senders)
        except TwilioFault as refused:
            return refused.response()
        fault = self.take_fault(checked.to)
        if fault is not None:
            if await self.hold(fault):
                return twilio_json(error_body(20503, "Service Unavailable", 503), 503)
            faulted = self._fault_response(fault)
            if faulted is not None:
                return faulted
        return self._accept(account, checked, form)

    def _accept(
        self, account: TwilioAccount, checked: CheckedMessage, form: list[tuple[str, str]]
    ) -> web.Response:
        sid = new_sid("SM")
        status = "accepted" if checked.messaging_service_sid else "queued"
        created = datetime.now(UTC)
        self.messages.append(
            TwilioMessage(
                sid=sid,
                account_sid=account.account_sid,
                to=checked.to,
                from_=checked.from_,
                messaging_service_sid=checked.messaging_service_sid,
                body=checked.body,
                status_callback=checked.status_callback,
                form=form,
                received_at=created,
                status=status,
            )
        )
        self.notify()
        if account.auto_statuses and checked.status_callback:
            self.schedule(
                [partial(self.post_status, sid, status) for status in account.auto_statuses],
                delay=self.auto_status_delay,
                what=f"status callback of {sid}",
            )
        resource = message_resource(
            sid=sid,
            account_sid=account.account_sid,
            message=checked,
            status=status,
            created=created,
        )
        return twilio_json(resource, 201)

    async def _unknown_path(self, request: web.Request) -> web.Response:
        return twilio_json(
            error_body(20404, f"The requested resource {request.path} was not found", 404), 404
        )
