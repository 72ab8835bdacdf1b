"""``/phone/`` endpoints of the WhatsApp Web simulator: "the phone" over HTTP (JSON, camelCase).

======  ===============================  ===================================================
POST    /phone/scan                      ``{"code", "phone", "fail"?}``: scan the QR showing
                                         ``code`` (``fail``: the link fails, a new QR follows)
POST    /phone/link-code                 ``{"code", "phone"}``: enter a pairing code (link by
                                         phone number); 404 ``wrong_code``, 410 ``expired``
GET     /phone/pending-codes             the codes pages show now (QR codes and pairing codes)
GET     /phone/messages                  what pages sent (``?to=``, ``?from=`` filter)
DELETE  /phone/messages                  forget sent and incoming messages
GET     /phone/messages/{id}             one sent message (serialized id or key id)
GET     /phone/messages/{id}/media       the bytes of a file message
POST    /phone/messages/{id}/ack         ``{"ack": N}`` (-7..4): make that ack happen
POST    /phone/incoming                  ``{"to", "from", "body", "notifyName"?}``
GET     /phone/incoming                  messages written to sessions so far
POST    /phone/logout                    ``{"phone", "deviceId"?, "reason"?}``: unlink
POST    /phone/conflict                  ``{"phone"}``: open the session elsewhere
POST    /phone/block                     ``{"phone", "state"}``: WhatsApp refuses the device
POST    /phone/refuse                    ``{"code", "count"?}``: refuse the next sends (wa-js code)
POST    /phone/lid                       ``{"phone", "lid"?}``: address the phone's chat by a LID
POST    /phone/disconnect                ``{"phone", "seconds"?}``: drop the pages' links
GET     /phone/not-on-whatsapp           numbers marked as not on WhatsApp
POST    /phone/not-on-whatsapp           ``{"phone"}``: mark a number
DELETE  /phone/not-on-whatsapp/{phone}   unmark it
GET     /phone/sessions                  logged-in pages per phone, now and at most
GET     /phone/devices                   linked devices
======  ===============================  ===================================================

Errors are ``{"error": "<text>"}`` with 400 (bad body), 404 (unknown code, message, phone),
409 (the page went away while pairing) or 504 (the page did not finish pairing). A refused
pairing code adds ``"reason"``: ``wrong_code`` (404) or ``expired`` (410).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import Field

from sandbox._base import ControlModel as WireModel
from sandbox._base import json_response as _json
from sandbox._base import parse_body as _parse
from sandbox.whatsapp_web._linking import LinkCodeRefused

if TYPE_CHECKING:
    from sandbox.whatsapp_web.simulator import WhatsAppWebSimulator

__all__ = ["add_phone_routes"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ScanBody(WireModel):
    code: str = Field(min_length=1, max_length=4096)
    phone: str = Field(min_length=1, max_length=64)
    fail: bool = False


class LinkCodeBody(WireModel):
    code: str = Field(min_length=1, max_length=32)
    phone: str = Field(min_length=1, max_length=64)


class AckBody(WireModel):
    ack: int = Field(ge=-7, le=4, strict=True)


class IncomingBody(WireModel):
    to: str = Field(min_length=1, max_length=64)
    from_: str = Field(alias="from", min_length=1, max_length=64)
    body: str = Field(max_length=65536)
    notify_name: str | None = Field(None, max_length=256)


class PhoneBody(WireModel):
    phone: str = Field(min_length=1, max_length=64)


class LogoutBody(PhoneBody):
    device_id: str | None = Field(None, max_length=128)
    reason: str = Field("unknown_companion", pattern=r"^[a-z_]{1,80}$")


class BlockBody(PhoneBody):
    state: str = Field(pattern=r"^(TOS_BLOCK|SMB_TOS_BLOCK|PROXYBLOCK|DEPRECATED_VERSION)$")


class RefuseBody(WireModel):
    code: str = Field(pattern=r"^[a-z_]{1,80}$")
    count: int = Field(1, ge=1, le=1000)


class LidBody(PhoneBody):
    lid: str | None = Field(None, pattern=r"^\d{5,20}$")


class DisconnectBody(PhoneBody):
    seconds: float = Field(0.0, ge=0, le=3600)


def _errors(handler: Handler) -> Handler:
    """Turn the simulator's exceptions into JSON errors with the documented statuses."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        except LookupError as exc:
            return _json({"error": str(exc).strip("'\"")}, 404)
        except ConnectionError as exc:
            return _json({"error": str(exc)}, 409)
        except TimeoutError as exc:
            return _json({"error": str(exc) or "timed out"}, 504)

    return wrapped


def add_phone_routes(app: web.Application, sim: WhatsAppWebSimulator) -> None:
    """Register the ``/phone/`` endpoints of ``sim`` on ``app``."""

    async def scan(request: web.Request) -> web.Response:
        body: ScanBody = await _parse(request, ScanBody)
        if body.fail:
            await sim.fail_scan(body.code, body.phone)
            return _json({"linked": False, "reason": "pairing_failed"})
        device = await sim.scan(body.code, body.phone)
        return _json(device.to_json())

    async def link_code(request: web.Request) -> web.Response:
        body: LinkCodeBody = await _parse(request, LinkCodeBody)
        try:
            device = await sim.enter_link_code(body.code, body.phone)
        except LinkCodeRefused as exc:
            status = 410 if exc.reason == "expired" else 404
            return _json({"error": str(exc), "reason": exc.reason}, status)
        return _json(device.to_json())

    async def pending_codes(_: web.Request) -> web.Response:
        return _json(
            {
                "codes": [c.to_json() for c in sim.pending_codes()],
                "linkCodes": [c.to_json() for c in sim.pending_link_codes()],
            }
        )

    async def list_messages(request: web.Request) -> web.Response:
        found = sim.sent(to=request.query.get("to"), from_=request.query.get("from"))
        return _json({"messages": [m.to_json() for m in found]})

    async def clear_messages(_: web.Request) -> web.Response:
        sim.clear_messages()
        return web.Response(status=204)

    def lookup(request: web.Request) -> Any:
        message = sim.message(request.match_info["id"])
        if message is None:
            raise LookupError(f"no message {request.match_info['id']}")
        return message

    async def get_message(request: web.Request) -> web.Response:
        return _json(lookup(request).to_json())

    async def get_media(request: web.Request) -> web.Response:
        message = lookup(request)
        if message.media is None:
            raise LookupError("this message has no media")
        return web.Response(
            body=message.media, content_type=message.mimetype or "application/octet-stream"
        )

    async def post_ack(request: web.Request) -> web.Response:
        body: AckBody = await _parse(request, AckBody)
        message = await sim.ack(request.match_info["id"], body.ack)
        return _json(message.to_json())

    async def post_incoming(request: web.Request) -> web.Response:
        body: IncomingBody = await _parse(request, IncomingBody)
        message = await sim.incoming(body.to, body.from_, body.body, notify_name=body.notify_name)
        return _json(message.to_json(), 201)

    async def list_incoming(_: web.Request) -> web.Response:
        return _json({"messages": [m.to_json() for m in sim.incoming_messages]})

    async def post_logout(request: web.Request) -> web.Response:
        body: LogoutBody = await _parse(request, LogoutBody)
        removed = await sim.logout(body.phone, device_id=body.device_id, reason=body.reason)
        return _json({"devices": [d.to_json() for d in removed]})

    async def post_conflict(request: web.Request) -> web.Response:
        body: PhoneBody = await _parse(request, PhoneBody)
        return _json({"pages": await sim.conflict(body.phone)})

    async def post_block(request: web.Request) -> web.Response:
        body: BlockBody = await _parse(request, BlockBody)
        return _json({"pages": await sim.block(body.phone, body.state)})

    async def post_refuse(request: web.Request) -> web.Response:
        body: RefuseBody = await _parse(request, RefuseBody)
        sim.refuse(body.code, body.count)
        return _json({"refusals": len(sim.refusals)})

    async def post_lid(request: web.Request) -> web.Response:
        body: LidBody = await _parse(request, LidBody)
        return _json({"lid": sim.use_lid(body.phone, body.lid)}, 201)

    async def post_disconnect(request: web.Request) -> web.Response:
        body: DisconnectBody = await _parse(request, DisconnectBody)
        return _json({"pages": await sim.disconnect(body.phone, seconds=body.seconds)})

    async def list_unknown(_: web.Request) -> web.Response:
        return _json({"phones": sorted(sim.not_on_whatsapp)})

    async def mark_unknown(request: web.Request) -> web.Response:
        body: PhoneBody = await _parse(request, PhoneBody)
        return _json({"phone": sim.mark_not_on_whatsapp(body.phone)}, 201)

    async def unmark_unknown(request: web.Request) -> web.Response:
        sim.mark_on_whatsapp(request.match_info["phone"])
        return web.Response(status=204)

    async def sessions(_: web.Request) -> web.Response:
        return _json({"sessions": [s.to_json() for s in sim.sessions()]})

    async def devices(_: web.Request) -> web.Response:
        return _json({"devices": [d.to_json() for d in sim.devices.values()]})

    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/phone/scan", scan),
        ("POST", "/phone/link-code", link_code),
        ("GET", "/phone/pending-codes", pending_codes),
        ("GET", "/phone/messages", list_messages),
        ("DELETE", "/phone/messages", clear_messages),
        ("GET", "/phone/messages/{id}", get_message),
        ("GET", "/phone/messages/{id}/media", get_media),
        ("POST", "/phone/messages/{id}/ack", post_ack),
        ("POST", "/phone/incoming", post_incoming),
        ("GET", "/phone/incoming", list_incoming),
        ("POST", "/phone/logout", post_logout),
        ("POST", "/phone/conflict", post_conflict),
        ("POST", "/phone/block", post_block),
        ("POST", "/phone/refuse", post_refuse),
        ("POST", "/phone/lid", post_lid),
        ("POST", "/phone/disconnect", post_disconnect),
        ("GET", "/phone/not-on-whatsapp", list_unknown),
        ("POST", "/phone/not-on-whatsapp", mark_unknown),
        ("DELETE", "/phone/not-on-whatsapp/{phone}", unmark_unknown),
        ("GET", "/phone/sessions", sessions),
        ("GET", "/phone/devices", devices),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _errors(handler))
