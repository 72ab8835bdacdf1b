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

import math
from typing import TYPE_CHECKING, Literal

import aiohttp
from aiohttp import web
from pydantic import Field

from sandbox._base import ControlModel, parse_body
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


class FaultBody(ControlModel):
    to: str = Field(min_length=1)
    http_status: int = Field(400, ge=100, le=599)
    code: str | None = Field(None, description="the service's error code")
    message: str | None = None
    retry_after: float | None = Field(None, ge=0)
    delay_seconds: float | None = Field(None, ge=0, description="null and hang=true: forever")
    hang: bool = False
    raw_body: str | None = None
    times: int | None = Field(None, ge=1)

    def fault(self) -> SmsFault:
        delay = math.inf if self.hang and self.delay_seconds is None else self.delay_seconds
        return SmsFault(
            http_status=self.http_status,
            code=self.code,
            message=self.message,
            retry_after=self.retry_after,
            delay=delay,
            raw_body=self.raw_body.encode() if self.raw_body is not None else None,
            times=self.times,
        )


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

    async def clear_messages(_: web.Request) -> web.Response:
        sandbox.clear_messages()
        return web.Response(status=204)

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

    async def add_fault(request: web.Request) -> web.Response:
        body: FaultBody = await parse_body(request, FaultBody)
        fault = body.fault()
        if fault.code is None and fault.delay is None and fault.raw_body is None:
            fault.code = "20500"
        sandbox.add_fault(body.to, fault)
        return sandbox_json({"to": body.to}, 201)

    async def clear_faults(_: web.Request) -> web.Response:
        sandbox.clear_faults()
        return web.Response(status=204)

    async def post_status(request: web.Request) -> web.Response:
        body: StatusBody = await parse_body(request, StatusBody)
        try:
            status = await sandbox.post_status(
                body.sid,
                body.status,
                error_code=body.error_code,
                sign_with=body.sign_with,
                unsigned=body.unsigned,
                url=body.url,
            )
        except LookupError as exc:
            return sandbox_json({"error": str(exc)}, 404)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return sandbox_json(
                {"error": f"callback receiver unreachable: {type(exc).__name__}"}, 502
            )
        return sandbox_json({"callbackStatus": status})

    async def list_callbacks(_: web.Request) -> web.Response:
        hooks = [
            {"url": c.url, "params": dict(c.params), "httpStatus": c.http_status}
            for c in sandbox.callbacks
        ]
        return sandbox_json({"callbacks": hooks})

    app.router.add_get("/_sandbox/messages", list_messages)
    app.router.add_delete("/_sandbox/messages", clear_messages)
    app.router.add_get("/_sandbox/accounts", list_accounts)
    app.router.add_post("/_sandbox/accounts", add_account)
    app.router.add_post("/_sandbox/faults", add_fault)
    app.router.add_delete("/_sandbox/faults", clear_faults)
    app.router.add_post("/_sandbox/statuses", post_status)
    app.router.add_get("/_sandbox/callbacks", list_callbacks)
