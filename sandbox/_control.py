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

from typing import TYPE_CHECKING, Any, Literal

import orjson
from aiohttp import web
from pydantic import Field

from sandbox._base import ControlModel, delivery_answer
from sandbox._base import FaultBody as BaseFaultBody
from sandbox._base import json_response as _ok
from sandbox._base import parse_body as _parse
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


class FaultBody(BaseFaultBody):
    code: int | None = Field(None, description="Graph error code; 131000 when nothing else")
    details: str | None = None

    def fault(self) -> Fault:
        fault = self.record(Fault, code=self.code, details=self.details)
        if fault.code is None and fault.delay is None and fault.raw_body is None:
            fault.code = 131000
        return fault


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

    async def post_status(request: web.Request) -> web.Response:
        body: StatusBody = await _parse(request, StatusBody)
        deliver = sandbox.post_status(
            body.wamid,
            body.status,
            errors=body.errors,
            sign_with=body.sign_with,
            unsigned=body.unsigned,
            phone_number_id=body.phone_number_id,
            recipient_id=body.recipient_id,
        )
        return await delivery_answer(deliver, "webhookStatus", "webhook")

    async def list_webhooks(_: web.Request) -> web.Response:
        hooks = [
            {"url": w.url, "body": orjson.loads(w.body), "httpStatus": w.http_status}
            for w in sandbox.webhooks
        ]
        return _ok({"webhooks": hooks})

    sandbox.add_account_routes(
        app, list_messages, list_accounts, add_account, post_status, ("webhooks", list_webhooks)
    )
    sandbox.add_fault_route(app, FaultBody, FaultBody.fault)
