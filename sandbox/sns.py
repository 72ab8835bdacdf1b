"""A faithful local fake of Amazon SNS's query API for SMS (``Publish`` to a phone number).

``POST /`` (or ``GET /?...``) with ``Action=Publish&Version=2010-03-31``, signed with
AWS Signature Version 4: the fake recomputes the signature with botocore from the
secret it holds for the access key id (unknown key: ``InvalidClientTokenId``; wrong
secret or tampered request: ``SignatureDoesNotMatch``; more than 15 minutes of clock
skew: "Signature expired"). ``PhoneNumber`` must be E.164 and ``Message`` at most 1600
characters; ``MessageAttributes.entry.N`` are read as the query API encodes them. The
answer is SNS's ``PublishResponse`` XML with a ``MessageId``; errors are SNS's
``ErrorResponse`` XML. SNS sends no delivery reports for SMS, and neither does the fake.

Control endpoints: ``GET``/``DELETE /_sandbox/messages``, ``POST /_sandbox/accounts``
(``accessKeyId``, ``secretAccessKey``, ``sessionToken``), ``POST``/``DELETE
/_sandbox/faults`` (``code`` is the AWS error code).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from aiohttp import web
from pydantic import Field

from sandbox._base import ControlModel, fault_headers, raw_fault_response
from sandbox._sigv4 import AwsKey, SigV4Error, verify_sigv4
from sandbox._sms_base import SmsFault, SmsSandboxBase, recipient_key
from sandbox._twilio_control import FaultBody, parse_body, sandbox_json

__all__ = ["SNSSandbox", "SnsMessage"]

API_VERSION = "2010-03-31"
XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"
MAX_SMS_CHARS = 1600
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_ENTRY = re.compile(
    r"^MessageAttributes\.entry\.(\d+)\.(Name|Value\.DataType|Value\.StringValue|Value\.BinaryValue)$"
)
_SMS_TYPES = frozenset({"Promotional", "Transactional"})


@dataclass(frozen=True, slots=True)
class SnsMessage:
    """An SMS the fake accepted."""

    message_id: str
    access_key_id: str
    phone_number: str
    message: str
    attributes: dict[str, str]
    params: list[tuple[str, str]]
    received_at: datetime


class _Fault(Exception):
    def __init__(
        self, code: str, message: str, http_status: int = 400, kind: str = "Sender"
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.http_status, self.kind = code, message, http_status, kind


def _xml(
    body: str, request_id: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=body,
        status=status,
        content_type="text/xml",
        headers={"x-amzn-RequestId": request_id, **(headers or {})},
    )


def error_response(
    code: str,
    message: str,
    http_status: int = 400,
    kind: str = "Sender",
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """SNS's ``ErrorResponse`` document."""
    request_id = str(uuid.uuid4())
    body = (
        f'<ErrorResponse xmlns="{XMLNS}">\n  <Error>\n    <Type>{kind}</Type>\n'
        f"    <Code>{escape(code)}</Code>\n    <Message>{escape(message)}</Message>\n  </Error>\n"
        f"  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
    )
    return _xml(body, request_id, http_status, headers)


def _attributes(params: Sequence[tuple[str, str]]) -> dict[str, str]:
    entries: dict[int, dict[str, str]] = {}
    for key, value in params:
        match = _ENTRY.match(key)
        if match:
            entries.setdefault(int(match.group(1)), {})[match.group(2)] = value
    attributes: dict[str, str] = {}
    for _, entry in sorted(entries.items()):
        name = entry.get("Name")
        if not name:
            raise _Fault("ParameterValueInvalid", "The message attribute name must not be empty.")
        if entry.get("Value.DataType") not in ("String", "Number", "Binary", "String.Array"):
            raise _Fault(
                "ParameterValueInvalid",
                f"The message attribute '{name}' has an invalid message attribute type, the set "
                "of supported type prefixes is Binary, Number, and String.",
            )
        value = entry.get("Value.StringValue") or entry.get("Value.BinaryValue") or ""
        if not value:
            raise _Fault(
                "ParameterValueInvalid",
                f"The message attribute '{name}' must contain non-empty message attribute value "
                f"for message attribute type '{entry['Value.DataType']}'.",
            )
        attributes[name] = value
    sms_type = attributes.get("AWS.SNS.SMS.SMSType")
    if sms_type is not None and sms_type not in _SMS_TYPES:
        raise _Fault(
            "ParameterValueInvalid",
            f"The message attribute 'AWS.SNS.SMS.SMSType' has an invalid value '{sms_type}'.",
        )
    return attributes


def check_publish(params: Sequence[tuple[str, str]]) -> tuple[str, str, dict[str, str]]:
    """(phone number, message, attributes) of a valid SMS ``Publish``; :class:`_Fault` otherwise."""
    values = dict(params)
    action = values.get("Action")
    if not action:
        raise _Fault("MissingAction", "Missing Action")
    if action != "Publish" or values.get("Version", API_VERSION) != API_VERSION:
        raise _Fault(
            "InvalidAction",
            f"Could not find operation {action} for version {values.get('Version')}",
        )
    if values.get("TopicArn") or values.get("TargetArn"):
        raise _Fault("NotFound", "Topic does not exist", 404)
    phone = values.get("PhoneNumber")
    if not phone:
        raise _Fault(
            "InvalidParameter",
            "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter",
        )
    if not _E164.match(phone):
        raise _Fault(
            "InvalidParameter",
            f"Invalid parameter: PhoneNumber Reason: {phone} is not valid to publish to",
        )
    message = values.get("Message")
    if message is None:
        raise _Fault(
            "ValidationError",
            "1 validation error detected: Value null at 'message' failed to satisfy constraint: "
            "Member must not be null",
        )
    if not message.strip():
        raise _Fault("InvalidParameter", "Invalid parameter: Empty message")
    if len(message) > MAX_SMS_CHARS:
        raise _Fault("InvalidParameter", "Invalid parameter: Message too long")
    return phone, message, _attributes(params)


class _AccountBody(ControlModel):
    access_key_id: str = Field(min_length=16)
    secret_access_key: str = Field(min_length=1)
    session_token: str | None = None


class SNSSandbox(SmsSandboxBase):
    """The fake SNS query API for one region: keys, recorded messages, injected faults."""

    def __init__(
        self, *, region: str = "us-east-1", now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        super().__init__()
        self.region = region
        self.now = now
        self.keys: dict[str, AwsKey] = {}
        self.messages: list[SnsMessage] = []
        self.app = self._build_app()

    def add_key(
        self, access_key_id: str, secret_access_key: str, session_token: str | None = None
    ) -> None:
        """Add (or replace) an access key the fake accepts."""
        self.keys[access_key_id] = AwsKey(secret_access_key, session_token)

    def clear_messages(self) -> None:
        self.messages.clear()

    def message(self, message_id: str) -> SnsMessage | None:
        return next((m for m in self.messages if m.message_id == message_id), None)

    async def wait_for_messages(self, count: int = 1) -> list[SnsMessage]:
        await self.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)

    # --- the query API ----------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/", self._query)
        app.router.add_get("/_sandbox/messages", self._list_messages)
        app.router.add_post("/_sandbox/accounts", self._add_account)
        self.add_clearing_routes(app)
        self.add_fault_route(app, FaultBody, lambda body: body.fault("InternalError", 500))
        return self.serve_lifecycle(app)

    async def _query(self, request: web.Request) -> web.Response:
        if request.method not in ("GET", "POST"):
            return error_response("InvalidAction", f"Method {request.method} is not supported")
        raw = await request.read()
        try:
            access_key = verify_sigv4(
                method=request.method,
                url=str(request.url),
                headers=request.headers,
                body=raw,
                keys=self.keys,
                region=self.region,
                service="sns",
                now=self.now,
            )
        except SigV4Error as exc:
            return error_response(exc.code, exc.message, exc.http_status)
        try:
            params = list(request.query.items())
            if raw:
                params += parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
            phone, message, attributes = check_publish(params)
        except UnicodeDecodeError:
            return error_response("MalformedQueryString", "The request body is not UTF-8")
        except _Fault as fault:
            return error_response(fault.code, fault.message, fault.http_status, fault.kind)
        faulted = await self._fault(phone)
        if faulted is not None:
            return faulted
        record = SnsMessage(
            message_id=str(uuid.uuid4()),
            access_key_id=access_key,
            phone_number=phone,
            message=message,
            attributes=attributes,
            params=params,
            received_at=datetime.now(UTC),
        )
        self.messages.append(record)
        self.notify()
        request_id = str(uuid.uuid4())
        return _xml(
            f'<PublishResponse xmlns="{XMLNS}">\n  <PublishResult>\n'
            f"    <MessageId>{record.message_id}</MessageId>\n  </PublishResult>\n"
            f"  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n"
            "  </ResponseMetadata>\n</PublishResponse>\n",
            request_id,
        )

    async def _fault(self, phone: str) -> web.Response | None:
        fault: SmsFault | None = self.take_fault(phone)
        if fault is None:
            return None
        if await self.hold(fault):
            return error_response("ServiceUnavailable", "Service is unavailable", 503, "Receiver")
        if fault.raw_body is not None:
            return raw_fault_response(fault, fault.http_status)
        if fault.code is None:
            return None
        kind = "Receiver" if fault.http_status >= 500 else "Sender"
        message = fault.message or f"Sandbox fault {fault.code}"
        return error_response(fault.code, message, fault.http_status, kind, fault_headers(fault))

    # --- control ----------------------------------------------------------------------

    async def _list_messages(self, request: web.Request) -> web.Response:
        to = request.query.get("to")
        messages = [
            {
                "messageId": m.message_id,
                "accessKeyId": m.access_key_id,
                "phoneNumber": m.phone_number,
                "message": m.message,
                "attributes": m.attributes,
                "receivedAt": m.received_at.isoformat(),
            }
            for m in self.messages
            if to is None or recipient_key(m.phone_number) == recipient_key(to)
        ]
        return sandbox_json({"messages": messages})

    async def _add_account(self, request: web.Request) -> web.Response:
        body: _AccountBody = await parse_body(request, _AccountBody)
        self.add_key(body.access_key_id, body.secret_access_key, body.session_token)
        return sandbox_json({"accessKeyId": body.access_key_id}, 201)
