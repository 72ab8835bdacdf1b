"""The ``twilio`` provider: Twilio Programmable Messaging (SMS) over httpx."""

from __future__ import annotations

import logging
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from providers._http import post, read_json, unreadable
from providers._sms import check_sms, normalize_sender
from providers.base import Provider, ProviderInfo, SendResult
from providers.twilio._credentials import TwilioCredentials
from providers.twilio._errors import error_from_response
from providers.twilio._receiver import twilio_webhook
from providers.twilio._webhook import CALLBACK_PATH
from providers.webhooks import Webhook
from schemas.credentials_base import BaseCredentials
from schemas.notification import Channel, NotificationRequest

__all__ = ["API_VERSION", "TwilioProvider", "status_callback_url"]

logger = logging.getLogger(__name__)

API_VERSION = "2010-04-01"

_warned_no_public_url = False


def status_callback_url(public_url: str | None) -> str | None:
    """``{HERALD_PUBLIC_URL}/webhooks/twilio``; ``None`` (logged once) when it is unset."""
    global _warned_no_public_url
    if public_url:
        return public_url.rstrip("/") + CALLBACK_PATH
    if not _warned_no_public_url:
        _warned_no_public_url = True
        logger.warning(
            "HERALD_PUBLIC_URL is not set: Twilio messages are sent without StatusCallback, "
            "so no delivered/failed reports will arrive",
            extra={"provider": "twilio"},
        )
    return None


class TwilioProvider(Provider[TwilioCredentials]):
    """Sends through ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``.

    ``{base}`` is ``settings.twilio_api_url``. The body is form-encoded (``To``, ``Body``,
    ``From`` or ``MessagingServiceSid``, ``StatusCallback``); basic auth is
    ``AccountSid:AuthToken`` or ``ApiKeySid:ApiKeySecret``. Twilio answers 201 with the
    Message resource; its ``sid`` (``SM...``) is the provider message id that status
    callbacks refer to.
    """

    name: ClassVar[str] = "twilio"
    display_name: ClassVar[str] = "Twilio"
    channel: ClassVar[Channel] = Channel.SMS
    credentials_model: ClassVar[type[BaseCredentials]] = TwilioCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(
        content_types=("text",),
        features=("status_webhooks", "webhook_signatures", "messaging_services", "api_keys"),
        docs_url="https://www.twilio.com/docs/messaging/api/message-resource",
    )
    # No rate_limit: Twilio queues what a sender cannot send at once (per-sender rates
    # vary from 1 to 100+ segments per second) and answers 21611 when that queue is full.
    index_fields: ClassVar[tuple[str, ...]] = ("account_sid",)
    webhooks: ClassVar[tuple[Webhook, ...]] = (
        Webhook("/webhooks/twilio", ("POST",), twilio_webhook),
    )

    def validate(self, request: NotificationRequest) -> None:
        check_sms(request)

    def format_payload(self, request: NotificationRequest) -> dict[str, str]:
        """The form fields of the Messages request."""
        message = check_sms(request)
        creds = self.credentials
        form = {"To": message.to, "Body": message.body}
        if creds.messaging_service_sid:
            form["MessagingServiceSid"] = creds.messaging_service_sid
        elif creds.from_phone:
            form["From"] = normalize_sender(creds.from_phone)
        callback = status_callback_url(self.settings.public_url)
        if callback:
            form["StatusCallback"] = callback
        return form

    def messages_url(self) -> str:
        base = self.settings.twilio_api_url.rstrip("/")
        account = quote(self.credentials.account_sid, safe="")
        return f"{base}/{API_VERSION}/Accounts/{account}/Messages.json"

    def _auth(self) -> httpx.BasicAuth:
        creds = self.credentials
        if creds.api_key_sid and creds.api_key_secret:
            return httpx.BasicAuth(creds.api_key_sid, creds.api_key_secret.get_secret_value())
        return httpx.BasicAuth(creds.account_sid, creds.auth_token.get_secret_value())

    async def send(self, request: NotificationRequest) -> SendResult:
        form = self.format_payload(request)
        timeout = self.settings.provider_timeout_seconds
        log_extra = self.log_extra(request)
        response = await post(
            self.http,
            self.messages_url(),
            service="Twilio",
            timeout=timeout,
            log_extra=log_extra,
            errors=error_from_response,
            data=form,
            auth=self._auth(),
            headers={"Accept": "application/json"},
        )
        message = _message_resource(response)
        sid = message["sid"]
        logger.info("twilio message accepted", extra={**log_extra, "provider_message_id": sid})
        metadata: dict[str, Any] = {
            key: message[key]
            for key in ("status", "num_segments", "messaging_service_sid")
            if isinstance(message.get(key), str)
        }
        return SendResult(provider_message_id=sid, metadata=metadata)


def _message_resource(response: httpx.Response) -> dict[str, Any]:
    """The Message resource of a 2xx answer, with a usable ``sid``."""
    what = "a readable Message resource"
    data = read_json("Twilio", response, what)
    sid = data.get("sid") if isinstance(data, dict) else None
    if not isinstance(sid, str) or not sid:
        raise unreadable("Twilio", response, what)
    return dict(data)
