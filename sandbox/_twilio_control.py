"""``/_sandbox/`` control endpoints of the Twilio fake (JSON, camelCase).

=======  =========================  ==================================================
GET      /_sandbox/messages         accepted messages (``?to=`` filters by recipient)
DELETE   /_sandbox/messages         forget messages and delivered callbacks
GET      /_sandbox/accounts         accounts, without their secrets
POST     /_sandbox/accounts         add or replace an account
POST     /_sandbox/faults           inject a fault for a recipient
DELETE   /_sandbox/faults           remove every fault
POST     /_sandbox/statuses         send a status callback for a message sid
GET      /_sandbox/callbacks        callbacks delivered so far, with receiver status
=======  =========================  ==================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from aiohttp import web
from pydantic import Field

from sandbox._base import ControlModel, delivery_answer, parse_body
from sandbox._base import FaultBody as BaseFaultBody
from sandbox._base import json_response as sandbox_json
from sandbox._sms_base import SmsFault, recipient_key

if TYPE_CHECKING:
    from sandbox.twilio import TwilioSandbox

__all__ = ["FaultBody", "add_control_routes", "parse_body", "sandbox_json"]

Callback = Literal["queued", "sending", "sent", "delivered", "undelivered", "failed", "read"]


class AccountBody(ControlModel):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: str = Field(min_length=1)
    api_keys: dict[str, str] = Field(default_factory=dict)
    senders: list[str] = Field(default_factory=list)
    auto_statuses: list[Callback] = Field(default_factory=list)
    delivery_error: int = 30003


class FaultBody(BaseFaultBody):
    code: str | None = Field(None, description="the service's error code")

    def fault(self, default_code: str = "20500", default_status: int | None = None) -> SmsFault:
        """The fault; with no code, delay nor raw body: ``default_code`` (and, if given,
        ``default_status`` instead of ``httpStatus``)."""
        fault = self.record(SmsFault, code=self.code)
        if fault.code is None and fault.delay is None and fault.raw_body is None:
            fault.code = default_code
            fault.http_status = default_status or fault.http_status
        return fault


class StatusBody(ControlModel):
    sid: str = Field(min_length=1)
    status: Callback
    error_code: int | None = None
    sign_with: str | None = None
    unsigned: bool = False
    url: str | None = None


def add_control_routes(app: web.Application, sandbox: TwilioSandbox) -> None:
    """Register the ``/_sandbox/`` endpoints of ``sandbox`` on ``app``."""

    async def list_messages(request: web.Request) -> web.Response:
        to = request.query.get("to")
        messages = [
            {
                "sid": m.sid,
                "accountSid": m.account_sid,
                "to": m.to,
                "from": m.from_,
                "messagingServiceSid": m.messaging_service_sid,
                "body": m.body,
                "statusCallback": m.status_callback,
                "status": m.status,
                "receivedAt": m.received_at.isoformat(),
            }
            for m in sandbox.messages
            if to is None or recipient_key(m.to) == recipient_key(to)
        ]
        return sandbox_json({"messages": messages})

    async def list_accounts(_: web.Request) -> web.Response:
        accounts = [
            {
                "accountSid": a.account_sid,
                "apiKeys": sorted(a.api_keys),
                "senders": sorted(a.senders),
                "autoStatuses": list(a.auto_statuses),
            }
            for a in sandbox.accounts.values()
        ]
        return sandbox_json({"accounts": accounts})

    async def add_account(request: web.Request) -> web.Response:
        body: AccountBody = await parse_body(request, AccountBody)
        sandbox.add_account(
            body.account_sid,
            body.auth_token,
            api_keys=body.api_keys,
            senders=frozenset(body.senders),
            auto_statuses=tuple(body.auto_statuses),
            delivery_error=body.delivery_error,
        )
        return sandbox_json({"accountSid": body.account_sid}, 201)

    async def post_status(request: web.Request) -> web.Response:
        body: StatusBody = await parse_body(request, StatusBody)
        deliver = sandbox.post_status(
            body.sid,
            body.status,
            error_code=body.error_code,
            sign_with=body.sign_with,
            unsigned=body.unsigned,
            url=body.url,
        )
        return await delivery_answer(deliver, "callbackStatus", "callback")

    async def list_callbacks(_: web.Request) -> web.Response:
        hooks = [
            {"url": c.url, "params": dict(c.params), "httpStatus": c.http_status}
            for c in sandbox.callbacks
        ]
        return sandbox_json({"callbacks": hooks})

    sandbox.add_account_routes(
        app, list_messages, list_accounts, add_account, post_status, ("callbacks", list_callbacks)
    )
    sandbox.add_fault_route(app, FaultBody, FaultBody.fault)
