"""A faithful local fake of Amazon SES API v2 ``SendEmail``.

``POST /v2/email/outbound-emails`` verifies the SigV4 signature the way AWS does: it reads
the ``Authorization`` header's credential scope and signed headers, looks the access key
up, and recomputes the signature with botocore's signer from the request as received
(method, path, query, signed headers, body) and the known secret. Errors answer AWS's
REST-JSON shape: the type in ``x-amzn-ErrorType`` (``MessageRejected:http://...``) and the
body ``{"__type": ..., "message": ...}``. Success answers ``{"MessageId": "..."}``.

The sender must be a verified identity (address or domain) of the account, else
``MessageRejected`` ("Email address is not verified..."), as in SES.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox._base import email_address
from sandbox._email import EmailFault, EmailSandbox, ReceivedAttachment, SentEmail

__all__ = ["SESAccount", "SESFault", "SESSandbox", "aws_error"]

#: SES API v2 SendEmail (API reference) and the SigV4 service name it is signed for.
SEND_EMAIL_PATH = "/v2/email/outbound-emails"
SIGNING_NAME = "ses"
_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sesv2/"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_MAX_SKEW = timedelta(minutes=5)


class SESFault(Exception):
    """An AWS error to answer with."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def response(self) -> web.Response:
        return aws_error(self.status, self.error_type, self.message)


def aws_error(status: int, error_type: str, message: str) -> web.Response:
    """A REST-JSON error as AWS answers it."""
    body = orjson.dumps({"__type": error_type, "message": message})
    return web.Response(
        status=status,
        body=body,
        headers={
            "Content-Type": "application/json",
            "x-amzn-ErrorType": f"{error_type}:{_NAMESPACE}",
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )


def _signature_error(message: str) -> SESFault:
    return SESFault(403, "InvalidSignatureException", message)


_BAD_TOKEN = SESFault(
    403, "UnrecognizedClientException", "The security token included in the request is invalid."
)
_MISMATCH = _signature_error(
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)


@dataclass(slots=True)
class SESAccount:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    verified_identities: tuple[str, ...] = ()
    configuration_sets: tuple[str, ...] = ()

    def verifies(self, address: str) -> bool:
        address = address.lower()
        domain = address.rsplit("@", 1)[-1]
        return any(i.lower() in (address, domain) for i in self.verified_identities)


class SESSandbox(EmailSandbox):
    """The fake SES v2 endpoint of one region: accounts, accepted mails, faults."""

    unavailable = (
        503,
        b'{"__type":"ServiceUnavailable","message":"Service unavailable"}',
        "application/json",
    )

    def __init__(self, *, region: str = "us-east-1") -> None:
        super().__init__(client_max_size=41 * 1024 * 1024)
        self.region = region
        self.accounts: dict[str, SESAccount] = {}
        self.app.router.add_post(SEND_EMAIL_PATH, self._send_email)

    def add_account(
        self,
        access_key_id: str,
        secret_access_key: str,
        *,
        session_token: str | None = None,
        verified_identities: Iterable[str] = (),
        configuration_sets: Iterable[str] = (),
    ) -> SESAccount:
        """Add an IAM key; ``verified_identities`` are addresses or domains it may send from."""
        account = SESAccount(
            access_key_id,
            secret_access_key,
            session_token,
            tuple(verified_identities),
            tuple(configuration_sets),
        )
        self.accounts[access_key_id] = account
        return account

    def fail(
        self, to: str, status: int, error_type: str, message: str, *, times: int | None = None
    ) -> EmailFault:
        """Answer mails for ``to`` with the AWS error ``error_type``."""
        response = aws_error(status, error_type, message)
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith("x-amzn")}
        assert isinstance(response.body, bytes)
        return self.add_fault(
            to, EmailFault(http_status=status, body=response.body, headers=headers, times=times)
        )

    # --- SigV4 ----------------------------------------------------------------------------

    def authenticate(self, request: web.Request, body: bytes) -> SESAccount:
        """The account that signed ``request``; the AWS error otherwise."""
        header = request.headers.get("Authorization")
        if not header:
            raise SESFault(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        match = _AUTH.match(header.strip())
        if match is None:
            raise SESFault(
                400,
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                "parameters.",
            )
        scope = match["credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise SESFault(400, "IncompleteSignatureException", "Credential is malformed.")
        key_id, date, region, service, _ = scope
        account = self.accounts.get(key_id)
        if account is None:
            raise _BAD_TOKEN
        token = request.headers.get("X-Amz-Security-Token")
        if token != account.session_token:
            raise _BAD_TOKEN
        amz_date = request.headers.get("X-Amz-Date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise SESFault(
                400,
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            ) from None
        now = datetime.now(UTC)
        if abs(now - signed_at) > _MAX_SKEW:
            raise _signature_error(
                f"Signature expired: {amz_date} is now earlier than "
                f"{(now - _MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')}"
            )
        if date != amz_date[:8]:
            raise _signature_error(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP"
            )
        if region != self.region:
            raise _signature_error(
                f"Credential should be scoped to a valid region, not '{region}'. "
            )
        if service != SIGNING_NAME:
            raise _signature_error(
                f"Credential should be scoped to correct service: '{SIGNING_NAME}'. "
            )
        signed = match["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            raise _signature_error("'Host' and 'X-Amz-Date' must be signed headers.")
        headers = {}
        for name in signed:
            if name not in request.headers:
                raise _MISMATCH
            headers[name] = request.headers[name]
        expected = _signature(
            request.method,
            f"http://{request.headers.get('Host', request.host)}{request.raw_path}",
            headers,
            body,
            account,
            region,
            amz_date,
        )
        if not hmac.compare_digest(expected, match["signature"]):
            raise _MISMATCH
        return account

    # --- SendEmail ------------------------------------------------------------------------

    async def _send_email(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            account = self.authenticate(request, body)
            data = _load(body)
            mail = _mail(data, account, self.region)
        except SESFault as fault:
            return fault.response()
        faulted = await self.apply_fault(mail.to)
        if faulted is not None:
            return faulted
        self.record(mail)
        return web.json_response(
            {"MessageId": mail.id}, headers={"x-amzn-RequestId": str(uuid.uuid4())}
        )


def _signature(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    account: SESAccount,
    region: str,
    amz_date: str,
) -> str:
    """The signature botocore computes for this request at ``amz_date``."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(
        Credentials(account.access_key_id, account.secret_access_key, account.session_token),
        SIGNING_NAME,
        region,
    )
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


def _bad(message: str) -> SESFault:
    return SESFault(400, "BadRequestException", message)


def _load(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SESFault(400, "SerializationException", "Unable to parse request body") from None
    if not isinstance(data, dict):
        raise SESFault(400, "SerializationException", "Request body must be a JSON object")
    return data


def _address(value: Any) -> str:
    """The bare address of ``Name <addr>`` or ``addr``; ``BadRequestException`` if illegal."""
    if not isinstance(value, str):
        raise _bad("Illegal address")
    _, address = parseaddr(value)
    try:
        return email_address(address)
    except ValueError:
        raise _bad("Illegal address") from None


def _text(part: Any, where: str) -> str | None:
    if part is None:
        return None
    data = part.get("Data") if isinstance(part, dict) else None
    if not isinstance(data, str):
        raise _bad(f"{where}.Data is required")
    return data


def _mail(data: dict[str, Any], account: SESAccount, region: str) -> SentEmail:
    """Validate a ``SendEmail`` body (Simple content) into the mail SES would send."""
    if "FromEmailAddress" not in data:
        raise _bad("Missing required field FromEmailAddress")
    sender = _address(data["FromEmailAddress"])
    destination = data.get("Destination")
    to = destination.get("ToAddresses") if isinstance(destination, dict) else None
    if not isinstance(to, list) or not to:
        raise _bad("Missing required field Destination.ToAddresses")
    if len(to) > 50:
        raise _bad("Recipient count exceeds 50.")
    recipients = tuple(_address(a) for a in to)
    reply_to = [_address(a) for a in data.get("ReplyToAddresses") or []]
    content = data.get("Content")
    simple = content.get("Simple") if isinstance(content, dict) else None
    if not isinstance(simple, dict):
        raise _bad("Content.Simple is required (Raw and Template are not served by the fake)")
    subject = _text(simple.get("Subject"), "Content.Simple.Subject")
    body = simple.get("Body")
    if subject is None or not isinstance(body, dict):
        raise _bad("Content.Simple needs Subject and Body")
    text = _text(body.get("Text"), "Body.Text")
    html = _text(body.get("Html"), "Body.Html")
    if text is None and html is None:
        raise _bad("Body needs Text or Html")
    attachments = tuple(_attachment(a) for a in simple.get("Attachments") or [])
    tags = {}
    for tag in data.get("EmailTags") or []:
        name, value = (tag.get("Name"), tag.get("Value")) if isinstance(tag, dict) else ("", "")
        if (
            not isinstance(name, str)
            or not isinstance(value, str)
            or not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", name)
            or not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value)
        ):
            raise _bad("Invalid email tag: names and values allow A-Z, a-z, 0-9, _ and -.")
        tags[name] = value
    config_set = data.get("ConfigurationSetName")
    if config_set is not None and config_set not in account.configuration_sets:
        raise SESFault(
            404, "NotFoundException", f"Configuration set <{config_set}> does not exist."
        )
    if not account.verifies(sender):
        raise SESFault(
            400,
            "MessageRejected",
            "Email address is not verified. The following identities failed the check in "
            f"region {region.upper()}: {sender}",
        )
    return SentEmail(
        id=_message_id(),
        account=account.access_key_id,
        sender=data["FromEmailAddress"],
        to=recipients,
        subject=subject,
        text=text,
        html=html,
        reply_to=reply_to[0] if reply_to else None,
        attachments=attachments,
        custom=tags,
        request=data,
    )


def _attachment(item: Any) -> ReceivedAttachment:
    if not isinstance(item, dict) or not isinstance(item.get("FileName"), str):
        raise _bad("Attachment.FileName is required")
    try:
        raw = base64.b64decode(item.get("RawContent") or "", validate=True)
    except (binascii.Error, ValueError):
        raise SESFault(400, "SerializationException", "RawContent must be base64") from None
    if not raw:
        raise _bad("Attachment.RawContent is required")
    if item.get("ContentDisposition", "ATTACHMENT") not in ("ATTACHMENT", "INLINE"):
        raise _bad("Attachment.ContentDisposition must be ATTACHMENT or INLINE")
    return ReceivedAttachment(
        item["FileName"], str(item.get("ContentType") or "application/octet-stream"), raw
    )


def _message_id() -> str:
    """An id shaped like SES's: ``0100018f...-xxxxxxxx-...-000000``."""
    return (
        f"0100{secrets.token_hex(6)}-{secrets.token_hex(4)}-{secrets.token_hex(2)}-"
        f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}-000000"
    )
