"""The ``sns`` provider: Amazon SNS ``Publish`` to a phone number, over httpx."""

from __future__ import annotations

import logging
from typing import ClassVar

from providers._http import post, unreadable
from providers._sms import check_sms, normalize_sender
from providers.base import Provider, ProviderInfo, RateLimit, SendResult
from providers.sns._credentials import SNSCredentials
from providers.sns._errors import error_from_response
from providers.sns._query import encode_form, endpoint_url, parse_message_id, publish_params, signed
from schemas.credentials_base import BaseCredentials
from schemas.notification import Channel, NotificationRequest

__all__ = ["SNSProvider"]

logger = logging.getLogger(__name__)


class SNSProvider(Provider[SNSCredentials]):
    """Sends one SMS per request with the query API's ``Publish`` action.

    ``POST {SNS_ENDPOINT_URL}/`` (``{region}`` replaced by the integration's region),
    form-encoded, signed with AWS Signature Version 4 by botocore. The ``MessageId`` of
    the XML answer is the provider message id. SNS sends no per-message delivery
    report back to Herald, so ``sent`` is the last status of an SNS notification.
    """

    name: ClassVar[str] = "sns"
    display_name: ClassVar[str] = "AWS SNS"
    channel: ClassVar[Channel] = Channel.SMS
    credentials_model: ClassVar[type[BaseCredentials]] = SNSCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(
        content_types=("text",),
        features=("sigv4", "sender_id", "origination_number"),
        docs_url="https://docs.aws.amazon.com/sns/latest/api/API_Publish.html",
    )
    #: SNS's default quota for SMS: 20 messages per second per account and region.
    rate_limit: ClassVar[RateLimit | None] = RateLimit(per_second=20, burst=20)

    def validate(self, request: NotificationRequest) -> None:
        check_sms(request)

    def format_payload(self, request: NotificationRequest) -> list[tuple[str, str]]:
        """The ``Publish`` parameters (form fields, in order)."""
        message = check_sms(request)
        creds = self.credentials
        attributes: dict[str, str] = {"AWS.SNS.SMS.SMSType": creds.sms_type}
        if creds.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = creds.sender_id
        if creds.from_phone:
            attributes["AWS.MM.SMS.OriginationNumber"] = normalize_sender(creds.from_phone)
        return publish_params(message.to, message.body, attributes)

    def endpoint(self) -> str:
        return endpoint_url(self.settings.sns_endpoint_url, self.credentials.region)

    async def send(self, request: NotificationRequest) -> SendResult:
        creds = self.credentials
        url = self.endpoint()
        body = encode_form(self.format_payload(request))
        headers = signed(url, body, creds)
        timeout = self.settings.provider_timeout_seconds
        log_extra = self.log_extra(request, region=creds.region)
        response = await post(
            self.http,
            url,
            service="SNS",
            timeout=timeout,
            log_extra=log_extra,
            errors=error_from_response,
            content=body,
            headers=headers,
        )
        message_id = parse_message_id(response.content)
        if message_id is None:
            raise unreadable("SNS", response, "a readable PublishResponse")
        logger.info("sns message published", extra={**log_extra, "provider_message_id": message_id})
        request_id = response.headers.get("x-amzn-requestid")
        metadata = {"request_id": request_id} if request_id else {}
        return SendResult(provider_message_id=message_id, metadata=metadata)
