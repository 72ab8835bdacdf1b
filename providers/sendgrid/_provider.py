"""The ``sendgrid`` provider: Twilio SendGrid's v3 Mail Send API over httpx."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import orjson

from providers._email import EMAIL_CONTENT_TYPES, email_message
from providers._http import post, unreadable
from providers.base import Provider, ProviderInfo, SendResult
from providers.sendgrid._credentials import SendGridCredentials
from providers.sendgrid._errors import error_from_response
from providers.sendgrid._receiver import sendgrid_webhook
from providers.sendgrid._webhook import CUSTOM_ARG_NOTIFICATION, CUSTOM_ARG_TENANT
from providers.webhooks import Webhook
from schemas.credentials_base import BaseCredentials
from schemas.notification import Channel, NotificationRequest

__all__ = ["SendGridProvider"]

logger = logging.getLogger(__name__)


class SendGridProvider(Provider[SendGridCredentials]):
    """Sends through ``POST {SENDGRID_API_URL}/v3/mail/send`` with the tenant's API key.

    SendGrid answers ``202 Accepted`` with the message id in ``X-Message-Id``; delivery
    events arrive later on the signed Event Webhook (``/webhooks/sendgrid``).
    """

    name: ClassVar[str] = "sendgrid"
    display_name: ClassVar[str] = "SendGrid"
    channel: ClassVar[Channel] = Channel.EMAIL
    credentials_model: ClassVar[type[BaseCredentials]] = SendGridCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(
        content_types=EMAIL_CONTENT_TYPES,
        features=("status_webhooks", "webhook_signatures", "html", "attachments", "tracking"),
        docs_url="https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send",
    )
    index_fields: ClassVar[tuple[str, ...]] = ("webhook_public_key",)
    webhooks: ClassVar[tuple[Webhook, ...]] = (
        Webhook("/webhooks/sendgrid", ("POST",), sendgrid_webhook),
    )

    def validate(self, request: NotificationRequest) -> None:
        email_message(request)

    def format_payload(self, request: NotificationRequest) -> dict[str, Any]:
        """The Mail Send body: one personalization, text before html, inline attachments."""
        message = email_message(request)
        creds = self.credentials
        sender: dict[str, str] = {"email": creds.from_email}
        if creds.from_name:
            sender["name"] = creds.from_name
        content = []
        if message.text is not None:
            content.append({"type": "text/plain", "value": message.text})
        if message.html is not None:
            content.append({"type": "text/html", "value": message.html})
        payload: dict[str, Any] = {
            "personalizations": [{"to": [{"email": message.to}]}],
            "from": sender,
            "subject": message.subject,
            "content": content,
            "custom_args": {
                CUSTOM_ARG_TENANT: request.tenant_id,
                CUSTOM_ARG_NOTIFICATION: request.id,
            },
        }
        if creds.reply_to:
            payload["reply_to"] = {"email": creds.reply_to}
        if message.attachments:
            payload["attachments"] = [
                {
                    "content": a.base64,
                    "type": a.mimetype,
                    "filename": a.filename,
                    "disposition": "attachment",
                }
                for a in message.attachments
            ]
        if creds.categories:
            payload["categories"] = list(creds.categories)
        tracking: dict[str, Any] = {}
        if creds.track_opens is not None:
            tracking["open_tracking"] = {"enable": creds.track_opens}
        if creds.track_clicks is not None:
            tracking["click_tracking"] = {"enable": creds.track_clicks}
        if tracking:
            payload["tracking_settings"] = tracking
        return payload

    async def send(self, request: NotificationRequest) -> SendResult:
        payload = self.format_payload(request)
        log_extra = self.log_extra(request)
        url = f"{self.settings.sendgrid_api_url.rstrip('/')}/v3/mail/send"
        response = await post(
            self.http,
            url,
            service="SendGrid",
            timeout=self.settings.provider_timeout_seconds,
            log_extra=log_extra,
            content=orjson.dumps(payload),
            headers={
                "Authorization": f"Bearer {self.credentials.api_key.get_secret_value()}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            errors=error_from_response,
        )
        message_id = response.headers.get("x-message-id", "").strip()
        if not message_id:
            raise unreadable("SendGrid", response, "X-Message-Id")
        logger.info(
            "SendGrid accepted the mail", extra={**log_extra, "provider_message_id": message_id}
        )
        return SendResult(
            provider_message_id=message_id,
            metadata={"attachments": len(payload.get("attachments", []))},
        )
