"""``/_sandbox/`` control endpoints of the WhatsApp Business fake (JSON, camelCase).

=======  =========================  ==================================================
GET      /_sandbox/messages         accepted messages (``?to=`` filters by recipient)
DELETE   /_sandbox/messages         forget messages and delivered webhooks
GET      /_sandbox/accounts         accounts, without their secrets
POST     /_sandbox/accounts         add or replace an account
POST     /_sandbox/faults           inject a fault for a recipient
DELETE   /_sandbox/faults           remove every fault
POST     /_sandbox/statuses         send a status webhook for a wamid
GET      /_sandbox/webhooks         webhooks delivered so far, with receiver status
=======  =========================  ==================================================
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import orjson
from aiohttp import web
from pydantic import Field

from sandbox._base import ControlModel
from sandbox._base import json_response as _ok
from sandbox._base import parse_body as _parse
from sandbox._base import problem as _problem
from sandbox._records import Fault

if TYPE_CHECKING:
    from sandbox.whatsapp_business import WhatsAppBusinessSandbox

__all__ = ["add_control_routes"]


class AccountBody(ControlModel):
    phone_number_id: str = Field(min_length=1, max_length=64)
    access_token: str = Field(min_length=1)
    app_secret: str = Field(min_length=1)
    webhook_url: str | None = None
    auto_statuses: list[Literal["sent", "delivered", "read", "failed"]] = Field(
        default_factory=list
    )
    display_phone_number: str = "15550001234"
    business_account_id: str = "102290129340398"


class FaultBody(ControlModel):
    to: str = Field(min_length=1)
    http_status: int = Field(400, ge=100, le=599)
    code: int | None = Field(None, description="Graph error code; 131000 when nothing else")
    message: str | None = None
    details: str | None = None
    retry_after: float | None = Field(None, ge=0)
    delay_seconds: float | None = Field(None, ge=0, description="null and hang=true: forever")
    hang: bool = False
    raw_body: str | None = None
    times: int | None = Field(None, ge=1)


class StatusBody(ControlModel):
    wamid: str = Field(min_length=1)
    status: str = Field(min_length=1)
    errors: list[dict[str, Any]] | None = None
    sign_with: str | None = None
    unsigned: bool = False
    phone_number_id: str | None = None
    recipient_id: str | None = None


def add_control_routes(app: web.Application, sandbox: WhatsAppBusinessSandbox) -> None:
    """Register the ``/_sandbox/`` endpoints of ``sandbox`` on ``app``."""

    async def list_messages(request: web.Request) -> web.Response:
        to = request.query.get("to")
        messages = [
            {
                "wamid": m.wamid,
                "phoneNumberId": m.phone_number_id,
                "to": m.to,
                "waId": m.wa_id,
                "type": m.type,
                "body": m.body,
                "receivedAt": m.received_at.isoformat(),
            }
            for m in sandbox.messages
            if to is None or m.wa_id == "".join(ch for ch in to if ch.isdigit())
        ]
        return _ok({"messages": messages})

    async def clear_messages(_: web.Request) -> web.Response:
        sandbox.clear_messages()
        return web.Response(status=204)

    async def list_accounts(_: web.Request) -> web.Response:
        accounts = [
            {
                "phoneNumberId": a.phone_number_id,
                "displayPhoneNumber": a.display_phone_number,
                "businessAccountId": a.business_account_id,
                "webhookUrl": a.webhook_url,
                "autoStatuses": list(a.auto_statuses),
            }
            for a in sandbox.accounts.values()
        ]
        return _ok({"accounts": accounts})

    async def add_account(request: web.Request) -> web.Response:
        body: AccountBody = await _parse(request, AccountBody)
        sandbox.add_account(
            body.phone_number_id,
            access_token=body.access_token,
            app_secret=body.app_secret,
            webhook_url=body.webhook_url,
            auto_statuses=tuple(body.auto_statuses),
            display_phone_number=body.display_phone_number,
            business_account_id=body.business_account_id,
        )
        return _ok({"phoneNumberId": body.phone_number_id}, 201)

    async def add_fault(request: web.Request) -> web.Response:
        body: FaultBody = await _parse(request, FaultBody)
        delay = body.delay_seconds
        if body.hang and delay is None:
            delay = math.inf
        code = body.code
        if code is None and delay is None and body.raw_body is None:
            code = 131000
        fault = Fault(
            http_status=body.http_status,
            code=code,
            message=body.message,
            details=body.details,
            retry_after=body.retry_after,
            delay=delay,
            raw_body=body.raw_body.encode() if body.raw_body is not None else None,
            times=body.times,
        )
        sandbox.add_fault(body.to, fault)
        return _ok({"to": body.to}, 201)

    async def clear_faults(_: web.Request) -> web.Response:
        sandbox.clear_faults()
        return web.Response(status=204)

    async def post_status(request: web.Request) -> web.Response:
        body: StatusBody = await _parse(request, StatusBody)
        try:
            status = await sandbox.post_status(
                body.wamid,
                body.status,
                errors=body.errors,
                sign_with=body.sign_with,
                unsigned=body.unsigned,
                phone_number_id=body.phone_number_id,
                recipient_id=body.recipient_id,
            )
        except LookupError as exc:
            return _problem(404, str(exc))
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _problem(502, f"webhook receiver unreachable: {type(exc).__name__}")
        return _ok({"webhookStatus": status})

    async def list_webhooks(_: web.Request) -> web.Response:
        hooks = [
            {"url": w.url, "body": orjson.loads(w.body), "httpStatus": w.http_status}
            for w in sandbox.webhooks
        ]
        return _ok({"webhooks": hooks})

    app.router.add_get("/_sandbox/messages", list_messages)
    app.router.add_delete("/_sandbox/messages", clear_messages)
    app.router.add_get("/_sandbox/accounts", list_accounts)
    app.router.add_post("/_sandbox/accounts", add_account)
    app.router.add_post("/_sandbox/faults", add_fault)
    app.router.add_delete("/_sandbox/faults", clear_faults)
    app.router.add_post("/_sandbox/statuses", post_status)
    app.router.add_get("/_sandbox/webhooks", list_webhooks)
