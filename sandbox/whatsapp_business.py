"""A local, faithful fake of the WhatsApp Business Cloud API (Graph API).

Used by the tests, by ``herald sandbox whatsapp-business`` and by the demo::

    sandbox = WhatsAppBusinessSandbox()
    sandbox.add_account("106540352242922", access_token="EAAG...", app_secret="s3cret",
                        webhook_url="http://127.0.0.1:6066/webhooks/whatsapp-business",
                        auto_statuses=("sent", "delivered", "read"))
    async with serve_app(sandbox.app) as url:
        settings = Settings(whatsapp_business_api_url=f"{url}/v23.0")

What it checks, like Graph does: the bearer token (401, code 190), the phone number id
(400, code 100 subcode 33), the body (400, code 100) and uploaded media. It answers with
real-shaped bodies and sends signed (``X-Hub-Signature-256``) status webhooks. Faults
(Graph errors, unreadable bodies, delays, hangs) are injected per recipient number.
Control endpoints under ``/_sandbox/`` mirror the Python API for people and other teams.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import orjson
from aiohttp import web

from sandbox._base import SandboxBase, fault_headers, raw_fault_response
from sandbox._control import add_control_routes
from sandbox._graph import (
    GraphFault,
    check_message,
    fault_response,
    graph_error_body,
    graph_json,
    new_wamid,
    read_upload,
    recipient_digits,
    status_notification,
)
from sandbox._records import (
    DeliveredWebhook,
    Fault,
    SandboxAccount,
    SentMessage,
    UploadedMedia,
)
from sandbox._signatures import META_SIGNATURE_HEADER as SIGNATURE_HEADER
from sandbox._signatures import meta_signature as sign

__all__ = ["GRAPH_VERSION", "WhatsAppBusinessSandbox"]

logger = logging.getLogger(__name__)

#: The Graph version the demo points Herald at; any ``vNN.N`` path is served.
GRAPH_VERSION = "v23.0"
_VERSION = r"{version:v[0-9]+\.[0-9]+}"
_T = TypeVar("_T")


class WhatsAppBusinessSandbox(SandboxBase[Fault]):
    """The fake Graph API: accounts, recorded messages, injected faults, webhooks."""

    def __init__(self, *, auto_status_delay: float = 0.05) -> None:
        super().__init__()
        self.accounts: dict[str, SandboxAccount] = {}
        self.messages: list[SentMessage] = []
        self.uploads: dict[str, UploadedMedia] = {}
        self.webhooks: list[DeliveredWebhook] = []
        self.auto_status_delay = auto_status_delay
        self.app = self._build_app()

    # --- setup ----------------------------------------------------------------------

    def add_account(
        self,
        phone_number_id: str,
        *,
        access_token: str,
        app_secret: str,
        webhook_url: str | None = None,
        auto_statuses: tuple[str, ...] | list[str] = (),
        display_phone_number: str = "15550001234",
        business_account_id: str = "102290129340398",
    ) -> SandboxAccount:
        """Add (or replace) a business phone number."""
        account = SandboxAccount(
            phone_number_id=phone_number_id,
            access_token=access_token,
            app_secret=app_secret,
            webhook_url=webhook_url,
            auto_statuses=tuple(auto_statuses),
            display_phone_number=display_phone_number,
            business_account_id=business_account_id,
        )
        self.accounts[phone_number_id] = account
        return account

    def fault_key(self, recipient: str) -> str:
        return recipient_digits(recipient)

    def fail(
        self,
        to: str,
        code: int,
        *,
        http_status: int = 400,
        message: str | None = None,
        details: str | None = None,
        retry_after: float | None = None,
        times: int | None = None,
    ) -> Fault:
        """Answer requests for ``to`` with the Graph error ``code``."""
        return self.add_fault(
            to,
            Fault(
                http_status=http_status,
                code=code,
                message=message,
                details=details,
                retry_after=retry_after,
                times=times,
            ),
        )

    def hang(self, to: str, seconds: float = math.inf, *, times: int | None = None) -> Fault:
        """Delay requests for ``to`` by ``seconds`` (default: never answer)."""
        return self.add_fault(to, Fault(code=None, delay=seconds, times=times))

    def garble(
        self, to: str, *, http_status: int = 200, body: bytes = b"<html>oops</html>"
    ) -> Fault:
        """Answer requests for ``to`` with ``body`` (not a Graph body) and ``http_status``."""
        return self.add_fault(to, Fault(http_status=http_status, code=None, raw_body=body))

    def clear_messages(self) -> None:
        self.messages.clear()
        self.webhooks.clear()

    # --- waiting (tests) --------------------------------------------------------------

    async def wait_for_messages(self, count: int = 1) -> list[SentMessage]:
        """Wait until at least ``count`` messages were accepted; return them all."""
        await self.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)

    def message(self, wamid: str) -> SentMessage | None:
        return next((m for m in self.messages if m.wamid == wamid), None)

    # --- webhooks ---------------------------------------------------------------------

    async def post_status(
        self,
        wamid: str,
        status: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        sign_with: str | None = None,
        unsigned: bool = False,
        phone_number_id: str | None = None,
        recipient_id: str | None = None,
        timestamp: int | None = None,
    ) -> int:
        """POST a status webhook for ``wamid`` to its account's webhook URL.

        Signed with the account's app secret, or with ``sign_with`` (a wrong secret, for
        tests), or not at all with ``unsigned``. A ``failed`` status without ``errors``
        carries Meta's 131026 "Message undeliverable". ``phone_number_id`` and
        ``recipient_id`` allow statuses for messages the fake never saw. Returns the
        receiver's HTTP status.
        """
        sent = self.message(wamid)
        number_id = phone_number_id or (sent.phone_number_id if sent else None)
        if number_id is None:
            raise LookupError(f"unknown wamid {wamid!r}: pass phone_number_id")
        account = self.accounts.get(number_id)
        if account is None:
            raise LookupError(f"unknown phone number id {number_id!r}")
        if not account.webhook_url:
            raise LookupError(f"account {number_id!r} has no webhook_url")
        if status == "failed" and not errors:
            errors = [
                {
                    "code": 131026,
                    "title": "Message undeliverable",
                    "message": "Message undeliverable",
                    "error_data": {"details": "Message Undeliverable."},
                }
            ]
        payload = status_notification(
            business_account_id=account.business_account_id,
            display_phone_number=account.display_phone_number,
            phone_number_id=number_id,
            wamid=wamid,
            status=status,
            recipient_id=recipient_id or (sent.wa_id if sent else "0"),
            timestamp=timestamp if timestamp is not None else int(time.time()),
            conversation_id=secrets.token_hex(16),
            errors=errors,
        )
        body = orjson.dumps(payload)
        signature = None if unsigned else sign(body, sign_with or account.app_secret)
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        http_status = await self.post_webhook(account.webhook_url, body, headers)
        self.webhooks.append(DeliveredWebhook(account.webhook_url, body, signature, http_status))
        self.notify()
        return http_status

    # --- the Graph API ----------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=110 * 1024 * 1024)
        app.router.add_post(f"/{_VERSION}/{{phone_number_id}}/messages", self._messages)
        app.router.add_post(f"/{_VERSION}/{{phone_number_id}}/media", self._media)
        add_control_routes(app, self)
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)

        return self.serve_lifecycle(app)

    def _account(self, request: web.Request) -> SandboxAccount:
        """The account the request may act on; Graph's 401 / 400 otherwise."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            token = request.query.get("access_token", "")
        token = token.strip()
        if not token or all(a.access_token != token for a in self.accounts.values()):
            raise GraphFault(401, 190, "Invalid OAuth access token - Cannot parse access token")
        number_id = request.match_info["phone_number_id"]
        account = self.accounts.get(number_id)
        if account is None or account.access_token != token:
            raise GraphFault(
                400,
                100,
                f"Unsupported post request. Object with ID '{number_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this "
                "operation. Please read the Graph API documentation at "
                "https://developers.facebook.com/docs/graph-api",
                error_type="GraphMethodException",
                subcode=33,
            )
        return account

    async def _apply_fault(self, to: str) -> web.Response | None:
        fault = self.take_fault(to)
        if fault is None:
            return None
        if await self.hold(fault):
            return graph_json(graph_error_body(2, "Service temporarily unavailable"), 503)
        if fault.raw_body is not None:
            return raw_fault_response(fault, fault.http_status)
        if fault.code is None:
            return None
        body = graph_error_body(
            fault.code,
            fault.message or f"(#{fault.code}) Sandbox fault",
            error_type=fault.error_type,
            details=fault.details,
        )
        return graph_json(body, fault.http_status, fault_headers(fault))

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            account = self._account(request)
            try:
                body = orjson.loads(await request.read())
            except orjson.JSONDecodeError as exc:
                raise GraphFault(
                    400, 100, "(#100) Invalid parameter", details="Body is not JSON"
                ) from exc

            def media_exists(media_id: str) -> bool:
                upload = self.uploads.get(media_id)
                return upload is not None and upload.phone_number_id == account.phone_number_id

            to, kind = check_message(body, media_exists)
        except GraphFault as fault:
            return fault_response(fault)
        faulted = await self._apply_fault(to)
        if faulted is not None:
            return faulted
        wa_id = recipient_digits(to)
        wamid = new_wamid(wa_id)
        self.messages.append(
            SentMessage(
                wamid=wamid,
                phone_number_id=account.phone_number_id,
                to=to,
                wa_id=wa_id,
                type=kind,
                body=body,
                received_at=datetime.now(UTC),
            )
        )
        self.notify()
        if account.auto_statuses and account.webhook_url:
            self.schedule(
                [partial(self.post_status, wamid, status) for status in account.auto_statuses],
                delay=self.auto_status_delay,
                what=f"status webhook of {wamid}",
            )
        return graph_json(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [{"id": wamid}],
            }
        )

    async def _media(self, request: web.Request) -> web.Response:
        try:
            account = self._account(request)
            mime_type, filename, data = await read_upload(request)
            media_id = str(secrets.randbelow(9 * 10**15) + 10**15)
            upload = UploadedMedia(media_id, account.phone_number_id, mime_type, filename, data)
        except GraphFault as fault:
            return fault_response(fault)
        self.uploads[upload.id] = upload
        self.notify()
        return graph_json({"id": upload.id})

    async def _unknown_path(self, request: web.Request) -> web.Response:
        fault = GraphFault(400, 2500, f"Unknown path components: {request.path}")
        return fault_response(fault)
