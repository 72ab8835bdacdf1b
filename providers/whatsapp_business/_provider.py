"""The ``whatsapp-business`` provider: Meta's WhatsApp Business Cloud API over httpx."""

from __future__ import annotations

import logging
from typing import Any, ClassVar
from urllib.parse import quote

import orjson

from providers._http import post
from providers._phone import sanitize_phone
from providers.base import Provider, ProviderInfo, RateLimit, SendResult
from providers.webhooks import Webhook
from providers.whatsapp_business._credentials import WhatsAppBusinessCredentials
from providers.whatsapp_business._errors import error_from_response
from providers.whatsapp_business._payload import (
    build_message,
    check_content,
    decode_media,
    media_mimetype,
)
from providers.whatsapp_business._receiver import whatsapp_business_webhook
from schemas.credentials_base import BaseCredentials
from schemas.errors import RetryableError
from schemas.notification import Channel, Media, NotificationRequest
from schemas.status import ErrorCode

__all__ = ["WhatsAppBusinessProvider"]

logger = logging.getLogger(__name__)


class WhatsAppBusinessProvider(Provider[WhatsAppBusinessCredentials]):
    """Sends through ``POST {base}/{phoneNumberId}/messages`` with the tenant's token.

    ``{base}`` is ``settings.whatsapp_business_api_url`` (it includes the Graph version).
    Inline (base64) media is uploaded first through ``POST {base}/{phoneNumberId}/media``
    and sent by id; media with a URL is sent by link.
    """

    name: ClassVar[str] = "whatsapp-business"
    display_name: ClassVar[str] = "WhatsApp Business API"
    channel: ClassVar[Channel] = Channel.WHATSAPP
    credentials_model: ClassVar[type[BaseCredentials]] = WhatsAppBusinessCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(
        content_types=("text", "image", "document", "video", "audio", "location", "contacts"),
        features=(
            "status_webhooks",
            "webhook_signatures",
            "media_by_link",
            "media_upload",
            "link_preview",
        ),
        docs_url="https://developers.facebook.com/docs/whatsapp/cloud-api",
    )
    #: Cloud API default throughput: 80 messages per second per business phone number.
    rate_limit: ClassVar[RateLimit | None] = RateLimit(per_second=80, burst=80)
    index_fields: ClassVar[tuple[str, ...]] = ("phone_number_id", "verify_token")
    webhooks: ClassVar[tuple[Webhook, ...]] = (
        Webhook("/webhooks/whatsapp-business", ("GET", "POST"), whatsapp_business_webhook),
    )

    # --- the three provider methods ---------------------------------------------------

    def validate(self, request: NotificationRequest) -> None:
        sanitize_phone(request.recipient.phone)
        check_content(request.content)

    def format_payload(
        self, request: NotificationRequest, *, media_id: str | None = None
    ) -> dict[str, Any]:
        """The ``/messages`` body. Inline media needs ``media_id`` from :meth:`upload_media`."""
        return build_message(request, media_id=media_id)

    async def send(self, request: NotificationRequest) -> SendResult:
        media = request.content.media
        media_id = None
        if media is not None and media.base64:
            media_id = await self.upload_media(media, request=request)
        payload = self.format_payload(request, media_id=media_id)
        data = await self._post(
            "messages",
            request,
            content=orjson.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        wamid, wa_id = _message_id(data)
        logger.info(
            "whatsapp-business message accepted",
            extra={
                "tenant": request.tenant_id,
                "notification_id": request.id,
                "provider": self.name,
                "provider_message_id": wamid,
            },
        )
        metadata: dict[str, Any] = {"type": payload["type"]}
        if wa_id:
            metadata["wa_id"] = wa_id
        if media_id:
            metadata["media_id"] = media_id
        return SendResult(provider_message_id=wamid, metadata=metadata)

    # --- helpers ----------------------------------------------------------------------

    async def upload_media(self, media: Media, *, request: NotificationRequest) -> str:
        """Upload inline media; returns the media id to send it by."""
        data = decode_media(media)
        mimetype = media_mimetype(media)
        filename = media.filename or "upload"
        response = await self._post(
            "media",
            request,
            data={"messaging_product": "whatsapp", "type": mimetype},
            files={"file": (filename, data, mimetype)},
        )
        media_id = response.get("id")
        if isinstance(media_id, int) and not isinstance(media_id, bool):
            media_id = str(media_id)
        if not isinstance(media_id, str) or not media_id:
            raise RetryableError(
                ErrorCode.PROVIDER_UNAVAILABLE.value, "media upload answered without an id"
            )
        return media_id

    def _url(self, edge: str) -> str:
        base = self.settings.whatsapp_business_api_url.rstrip("/")
        phone_number_id = quote(self.credentials.phone_number_id, safe="")
        return f"{base}/{phone_number_id}/{edge}"

    async def _post(self, edge: str, request: NotificationRequest, **kwargs: Any) -> dict[str, Any]:
        """POST to a Graph edge; the JSON object answered, or a :class:`ProviderError`."""
        token = self.credentials.access_token.get_secret_value()
        timeout = self.settings.provider_timeout_seconds
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        log_extra = {
            "tenant": request.tenant_id,
            "notification_id": request.id,
            "provider": self.name,
            "edge": edge,
        }
        response = await post(
            self.http,
            self._url(edge),
            service="Graph API",
            timeout=timeout,
            log_extra=log_extra,
            errors=error_from_response,
            headers=headers,
            **kwargs,
        )
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise _unreadable(response.status_code) from exc
        if not isinstance(data, dict):
            raise _unreadable(response.status_code)
        return data


def _unreadable(status: int) -> RetryableError:
    return RetryableError(
        ErrorCode.PROVIDER_UNAVAILABLE.value,
        f"Graph API answered HTTP {status} with an unreadable body",
        provider_code=f"http_{status}",
    )


def _message_id(data: dict[str, Any]) -> tuple[str, str | None]:
    """``messages[0].id`` (the wamid) and ``contacts[0].wa_id`` from a send response."""
    messages = data.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    if not isinstance(wamid, str) or not wamid:
        raise RetryableError(
            ErrorCode.PROVIDER_UNAVAILABLE.value, "Graph API answered without a message id"
        )
    contacts = data.get("contacts")
    contact = contacts[0] if isinstance(contacts, list) and contacts else None
    wa_id = contact.get("wa_id") if isinstance(contact, dict) else None
    return wamid, wa_id if isinstance(wa_id, str) else None
