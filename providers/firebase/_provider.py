"""The ``firebase`` provider: Firebase Cloud Messaging HTTP v1 over httpx."""

from __future__ import annotations

import logging
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
import orjson

from providers._http import log_refusal, post, read_json, unreadable
from providers.base import Provider, ProviderInfo, RateLimit, SendResult
from providers.firebase._auth import DEFAULT_ACCESS_TOKENS, AccessTokenCache
from providers.firebase._credentials import FirebaseCredentials
from providers.firebase._errors import (
    error_from_response,
    parse_error,
)
from providers.firebase._payload import build_message, options, registration_token
from schemas.credentials_base import BaseCredentials
from schemas.notification import Channel, NotificationRequest

__all__ = ["FirebaseProvider"]

logger = logging.getLogger(__name__)


class FirebaseProvider(Provider[FirebaseCredentials]):
    """``POST {base}/v1/projects/{projectId}/messages:send`` with an OAuth 2.0 token.

    ``{base}`` is ``settings.fcm_api_url``. The access token comes from the service
    account through google-auth (token endpoint: ``settings.fcm_token_url`` if set, else
    the account's ``token_uri``), is cached per account and is refreshed once when FCM
    answers 401. The response's ``name`` is the provider message id.
    """

    name: ClassVar[str] = "firebase"
    display_name: ClassVar[str] = "Firebase Cloud Messaging"
    channel: ClassVar[Channel] = Channel.FCM
    credentials_model: ClassVar[type[BaseCredentials]] = FirebaseCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(
        content_types=("notification", "data"),
        features=(
            "oauth2_service_account",
            "android_overrides",
            "apns_overrides",
            "webpush_overrides",
            "token_unregistered",
        ),
        docs_url="https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send",
    )
    #: FCM's default quota: 600,000 messages per minute per project.
    rate_limit: ClassVar[RateLimit | None] = RateLimit(per_second=10_000, burst=10_000)

    def __init__(
        self,
        credentials: FirebaseCredentials,
        *,
        tokens: AccessTokenCache | None = None,
        **kwargs: Any,
    ) -> None:
        """``tokens``: the access-token cache (default: the process-wide one)."""
        super().__init__(credentials, **kwargs)
        self.tokens = tokens if tokens is not None else DEFAULT_ACCESS_TOKENS

    # --- the three provider methods ---------------------------------------------------

    def validate(self, request: NotificationRequest) -> None:
        registration_token(request)
        build_message(request, options(request))

    def format_payload(self, request: NotificationRequest) -> dict[str, Any]:
        return build_message(request, options(request))

    async def send(self, request: NotificationRequest) -> SendResult:
        payload = orjson.dumps(self.format_payload(request))
        info = self.credentials.service_account_info(token_uri=self.settings.fcm_token_url)
        timeout = self.settings.provider_timeout_seconds
        token = await self.tokens.get(info, http=self.http, time_limit=timeout)
        response = await self._post(payload, token, request)
        if response.status_code == 401 and _refreshable(response):
            logger.info(
                "FCM refused the access token: refreshing once", extra=self.log_extra(request)
            )
            token = await self.tokens.refresh(info, token, http=self.http, time_limit=timeout)
            response = await self._post(payload, token, request)
        if not response.is_success:
            error = error_from_response(response)
            log_refusal("FCM error", self.log_extra(request), response, error)
            raise error
        message_id = _message_name(response)
        logger.info(
            "firebase message accepted",
            extra={**self.log_extra(request), "provider_message_id": message_id},
        )
        return SendResult(provider_message_id=message_id)

    # --- helpers ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        base = self.settings.fcm_api_url.rstrip("/")
        return f"{base}/v1/projects/{quote(self.credentials.project_id, safe='')}/messages:send"

    async def _post(
        self, payload: bytes, token: str, request: NotificationRequest
    ) -> httpx.Response:
        """The call with the access ``token``; a refusal is returned as it is (``send`` reads
        it: a refused token is refreshed once)."""
        return await post(
            self.http,
            self.url,
            service="FCM",
            timeout=self.settings.provider_timeout_seconds,
            log_extra=self.log_extra(request),
            content=payload,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )


def _refreshable(response: httpx.Response) -> bool:
    """A 401 about our access token (not FCM's THIRD_PARTY_AUTH_ERROR about APNs/web push)."""
    parsed = parse_error(response.content)
    return parsed is None or parsed.error_code != "THIRD_PARTY_AUTH_ERROR"


def _message_name(response: httpx.Response) -> str:
    """``name`` (``projects/{p}/messages/{id}``) of a send response."""
    data = read_json("FCM", response, "a message name")
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise unreadable("FCM", response, "a message name")
    return name
