"""The ``apn`` provider: Apple Push Notification service over HTTP/2, token-based auth."""

from __future__ import annotations

import logging
import uuid
from typing import Any, ClassVar

import httpx
import orjson

from providers._http import log_refusal, post
from providers.apn._credentials import APNCredentials
from providers.apn._errors import error_from_response
from providers.apn._payload import (
    build_headers,
    build_payload,
    device_token,
    options,
)
from providers.apn._token import DEFAULT_PROVIDER_TOKENS, ProviderTokenCache
from providers.base import Provider, ProviderInfo, SendResult
from providers.errors import json_field
from schemas.credentials_base import BaseCredentials
from schemas.errors import RetryableError
from schemas.notification import Channel, NotificationRequest
from schemas.settings import Settings
from schemas.status import ErrorCode

__all__ = ["APNS_PRODUCTION_URL", "APNS_SANDBOX_URL", "APNProvider"]

logger = logging.getLogger(__name__)

APNS_PRODUCTION_URL = "https://api.push.apple.com"
APNS_SANDBOX_URL = "https://api.sandbox.push.apple.com"


class APNProvider(Provider[APNCredentials]):
    """``POST {base}/3/device/{token}`` over HTTP/2 with an ES256 provider token.

    ``{base}`` is ``settings.apns_api_url`` when set, else Apple's production or
    development host by the integration's ``production`` flag. APNs refuses HTTP/1.1:
    :meth:`http_mounts` gives the worker's shared client HTTP/2 transports for those
    origins (tests inject an ``httpx.AsyncClient(http1=False, http2=True)``). Each
    request carries a fresh ``apns-id`` (a UUID) that APNs echoes: the provider message id.
    """

    name: ClassVar[str] = "apn"
    display_name: ClassVar[str] = "Apple Push Notification"
    channel: ClassVar[Channel] = Channel.FCM
    credentials_model: ClassVar[type[BaseCredentials]] = APNCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(
        content_types=("alert", "background"),
        features=("http2", "token_auth", "collapse_id", "expiration", "token_unregistered"),
        docs_url="https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns",
    )

    def __init__(
        self,
        credentials: APNCredentials,
        *,
        tokens: ProviderTokenCache | None = None,
        **kwargs: Any,
    ) -> None:
        """``tokens``: the provider-token cache (default: the process-wide one)."""
        super().__init__(credentials, **kwargs)
        self.tokens = tokens if tokens is not None else DEFAULT_PROVIDER_TOKENS

    @classmethod
    def http_mounts(cls, settings: Settings) -> dict[str, httpx.AsyncBaseTransport]:
        """HTTP/2 for Apple's hosts, and HTTP/2 only (h2c on ``http://``) for an override."""
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        mounts: dict[str, httpx.AsyncBaseTransport] = {
            APNS_PRODUCTION_URL: httpx.AsyncHTTPTransport(http2=True, limits=limits),
            APNS_SANDBOX_URL: httpx.AsyncHTTPTransport(http2=True, limits=limits),
        }
        if settings.apns_api_url:
            origin = _origin(settings.apns_api_url)
            mounts[origin] = httpx.AsyncHTTPTransport(http1=False, http2=True, limits=limits)
        return mounts

    # --- the three provider methods ---------------------------------------------------

    def validate(self, request: NotificationRequest) -> None:
        device_token(request)
        build_payload(request, options(request))

    def format_payload(self, request: NotificationRequest) -> dict[str, Any]:
        return build_payload(request, options(request))

    async def send(self, request: NotificationRequest) -> SendResult:
        token = device_token(request)
        opts = options(request)
        body = orjson.dumps(build_payload(request, opts))
        apns_id = str(uuid.uuid4())
        headers = build_headers(
            request, opts, bundle_id=self.credentials.bundle_id, apns_id=apns_id
        )
        url = f"{self.base_url}/3/device/{token}"
        provider_token = self.tokens.token(self.credentials)
        response = await self._post(url, body, headers, provider_token, request)
        if response.status_code == 403 and _reason(response) == "ExpiredProviderToken":
            logger.info(
                "APNs provider token expired: re-signing once",
                extra=self.log_extra(request),
            )
            provider_token = self.tokens.renew(self.credentials, provider_token)
            response = await self._post(url, body, headers, provider_token, request)
        if response.status_code != 200:
            error = error_from_response(response)
            log_refusal("APNs error", self.log_extra(request), response, error)
            raise error
        if response.content.strip():
            raise RetryableError(
                ErrorCode.PROVIDER_UNAVAILABLE.value,
                "APNs answered 200 with an unexpected body",
                provider_code="http_200",
            )
        message_id = response.headers.get("apns-id") or apns_id
        logger.info(
            "apn notification accepted",
            extra={**self.log_extra(request), "provider_message_id": message_id},
        )
        return SendResult(
            provider_message_id=message_id,
            metadata={"apns_push_type": headers["apns-push-type"]},
        )

    # --- helpers ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.settings.apns_api_url:
            return self.settings.apns_api_url.rstrip("/")
        return APNS_PRODUCTION_URL if self.credentials.production else APNS_SANDBOX_URL

    async def _post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        provider_token: str,
        request: NotificationRequest,
    ) -> httpx.Response:
        """The call with ``provider_token``; a refusal is returned as it is (``send`` reads
        it: an expired token is renewed once)."""
        return await post(
            self.http,
            url,
            service="APNs",
            timeout=self.settings.provider_timeout_seconds,
            log_extra=self.log_extra(request),
            content=body,
            headers={
                **headers,
                "authorization": f"bearer {provider_token}",
                "content-type": "application/json",
            },
        )


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (an httpx mount key)."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _reason(response: httpx.Response) -> str | None:
    reason = json_field(response.content, "reason")
    return reason if isinstance(reason, str) else None
