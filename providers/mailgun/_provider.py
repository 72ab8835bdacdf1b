"""The ``mailgun`` provider: Mailgun's Messages API (form fields, basic auth) over httpx."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import quote

import httpx

from providers._email import EMAIL_CONTENT_TYPES, email_message, format_address
from providers._http import post, unreadable
from providers.base import Provider, ProviderInfo, SendResult
from providers.errors import json_field
from providers.mailgun._credentials import MailgunCredentials
from providers.mailgun._errors import error_from_response
from providers.mailgun._receiver import mailgun_webhook
from providers.mailgun._webhook import bare_id
from providers.webhooks import Webhook
from schemas.credentials_base import BaseCredentials
from schemas.notification import Channel, NotificationRequest

__all__ = ["VAR_NOTIFICATION", "VAR_TENANT", "MailgunPayload", "MailgunProvider"]

logger = logging.getLogger(__name__)

#: Custom variables (``v:`` fields) Herald sets; webhooks echo them in ``user-variables``.
VAR_TENANT = "herald_tenant"
VAR_NOTIFICATION = "herald_notification"


@dataclass(frozen=True, slots=True)
class MailgunPayload:
    """The form of a ``/messages`` request: fields, and files sent as ``attachment``."""

    fields: dict[str, str]
    files: list[tuple[str, tuple[str, bytes, str]]] = field(default_factory=list)


class MailgunProvider(Provider[MailgunCredentials]):
    """Sends through ``POST {base}/v3/{domain}/messages`` with basic auth ``api:<key>``.

    ``{base}`` is ``MAILGUN_API_URL`` for ``region: us`` and ``MAILGUN_EU_API_URL`` for
    ``region: eu``. Without attachments the form is url-encoded, with them multipart.
    """

    name: ClassVar[str] = "mailgun"
    display_name: ClassVar[str] = "Mailgun"
    channel: ClassVar[Channel] = Channel.EMAIL
    credentials_model: ClassVar[type[BaseCredentials]] = MailgunCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(
        content_types=EMAIL_CONTENT_TYPES,
        features=("status_webhooks", "webhook_signatures", "html", "attachments", "regions"),
        docs_url="https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages",
    )
    index_fields: ClassVar[tuple[str, ...]] = ("domain",)
    webhooks: ClassVar[tuple[Webhook, ...]] = (
        Webhook("/webhooks/mailgun", ("POST",), mailgun_webhook),
    )

    def validate(self, request: NotificationRequest) -> None:
        email_message(request)

    def format_payload(self, request: NotificationRequest) -> MailgunPayload:
        message = email_message(request)
        creds = self.credentials
        fields = {
            "from": format_address(creds.from_email, creds.from_name),
            "to": message.to,
            "subject": message.subject,
        }
        if message.text is not None:
            fields["text"] = message.text
        if message.html is not None:
            fields["html"] = message.html
        if creds.reply_to:
            fields["h:Reply-To"] = creds.reply_to
        fields[f"v:{VAR_TENANT}"] = request.tenant_id
        fields[f"v:{VAR_NOTIFICATION}"] = request.id
        files = [("attachment", (a.filename, a.data, a.mimetype)) for a in message.attachments]
        return MailgunPayload(fields=fields, files=files)

    def base_url(self) -> str:
        settings = self.settings
        base = settings.mailgun_eu_api_url if self.credentials.region == "eu" else None
        return (base or settings.mailgun_api_url).rstrip("/")

    async def send(self, request: NotificationRequest) -> SendResult:
        payload = self.format_payload(request)
        creds = self.credentials
        url = f"{self.base_url()}/v3/{quote(creds.domain, safe='')}/messages"
        log_extra = self.log_extra(request, domain=creds.domain, region=creds.region)
        response = await post(
            self.http,
            url,
            service="Mailgun",
            timeout=self.settings.provider_timeout_seconds,
            log_extra=log_extra,
            data=payload.fields,
            files=payload.files or None,
            auth=httpx.BasicAuth("api", creds.api_key.get_secret_value()),
            headers={"Accept": "application/json"},
            errors=error_from_response,
        )
        message_id = _message_id(response.content)
        if message_id is None:
            raise unreadable("Mailgun", response, "a message id")
        logger.info(
            "Mailgun queued the mail", extra={**log_extra, "provider_message_id": message_id}
        )
        return SendResult(provider_message_id=message_id)


def _message_id(content: bytes) -> str | None:
    raw = json_field(content, "id")
    message_id = bare_id(raw) if isinstance(raw, str) else ""
    return message_id or None
