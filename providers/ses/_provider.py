"""The ``ses`` provider: Amazon SES API v2 ``SendEmail``, signed with botocore's SigV4."""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

import orjson

from providers._aws import endpoint_url, sign_post, sign_request
from providers._email import EMAIL_CONTENT_TYPES, email_message, format_address
from providers._http import post, unreadable
from providers.base import Provider, ProviderInfo, SendResult
from providers.errors import json_field
from providers.ses._credentials import SESCredentials
from providers.ses._errors import error_from_response
from schemas.credentials_base import BaseCredentials
from schemas.notification import Channel, NotificationRequest

__all__ = ["SEND_EMAIL_PATH", "SIGNING_NAME", "SESProvider", "endpoint_url", "sign_request"]

logger = logging.getLogger(__name__)

#: ``SendEmail``'s path, and the name SES v2 requests are signed for.
SEND_EMAIL_PATH = "/v2/email/outbound-emails"
SIGNING_NAME = "ses"

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _tag(name: str, value: str) -> dict[str, str]:
    """An ``EmailTags`` entry: only ASCII letters, digits, ``_`` and ``-``, 256 at most."""
    return {"Name": name, "Value": (_TAG_UNSAFE.sub("_", value) or "_")[:256]}


class SESProvider(Provider[SESCredentials]):
    """Sends through ``POST {SES_ENDPOINT_URL}/v2/email/outbound-emails`` (``SendEmail``).

    The answer's ``MessageId`` is the provider message id. SES reports deliveries only
    through SNS or EventBridge event destinations, which Herald does not consume yet: an
    SES notification ends at ``sent``.
    """

    name: ClassVar[str] = "ses"
    display_name: ClassVar[str] = "AWS SES"
    channel: ClassVar[Channel] = Channel.EMAIL
    credentials_model: ClassVar[type[BaseCredentials]] = SESCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(
        content_types=EMAIL_CONTENT_TYPES,
        features=("html", "attachments", "configuration_sets", "sigv4"),
        docs_url="https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html",
    )

    def validate(self, request: NotificationRequest) -> None:
        email_message(request)

    def format_payload(self, request: NotificationRequest) -> dict[str, Any]:
        """The ``SendEmail`` body: a Simple message, attachments inline (base64 blobs)."""
        message = email_message(request)
        creds = self.credentials
        body: dict[str, Any] = {}
        if message.text is not None:
            body["Text"] = {"Data": message.text, "Charset": "UTF-8"}
        if message.html is not None:
            body["Html"] = {"Data": message.html, "Charset": "UTF-8"}
        simple: dict[str, Any] = {
            "Subject": {"Data": message.subject, "Charset": "UTF-8"},
            "Body": body,
        }
        if message.attachments:
            simple["Attachments"] = [
                {
                    "RawContent": a.base64,
                    "FileName": a.filename,
                    "ContentType": a.mimetype,
                    "ContentDisposition": "ATTACHMENT",
                    "ContentTransferEncoding": "BASE64",
                }
                for a in message.attachments
            ]
        payload: dict[str, Any] = {
            "FromEmailAddress": format_address(creds.from_email, creds.from_name),
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Simple": simple},
            "EmailTags": [
                _tag("herald_tenant", request.tenant_id),
                _tag("herald_notification", request.id),
            ],
        }
        if creds.reply_to:
            payload["ReplyToAddresses"] = [creds.reply_to]
        if creds.configuration_set:
            payload["ConfigurationSetName"] = creds.configuration_set
        return payload

    async def send(self, request: NotificationRequest) -> SendResult:
        creds = self.credentials
        body = orjson.dumps(self.format_payload(request))
        url = endpoint_url(self.settings.ses_endpoint_url, creds.region) + SEND_EMAIL_PATH
        headers = sign_post(url, body, "application/json", creds, service=SIGNING_NAME)
        log_extra = self.log_extra(request, region=creds.region)
        response = await post(
            self.http,
            url,
            service="Amazon SES",
            timeout=self.settings.provider_timeout_seconds,
            log_extra=log_extra,
            content=body,
            headers=headers,
            errors=error_from_response,
        )
        message_id = _message_id(response.content)
        if message_id is None:
            raise unreadable("SES", response, "a MessageId")
        logger.info("SES accepted the mail", extra={**log_extra, "provider_message_id": message_id})
        return SendResult(provider_message_id=message_id)


def _message_id(content: bytes) -> str | None:
    message_id = json_field(content, "MessageId")
    return message_id if isinstance(message_id, str) and message_id else None
