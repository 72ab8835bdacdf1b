"""Channel ``fcm``: Firebase Cloud Messaging and APNs endpoints."""

from __future__ import annotations

from pydantic import Field

from schemas.settings._env import Section, env

__all__ = ["PushSettings"]


class PushSettings(Section):
    """Channel ``fcm``: Firebase Cloud Messaging and APNs endpoints."""

    fcm_api_url: str = Field(
        "https://fcm.googleapis.com",
        validation_alias=env("FCM_API_URL"),
        description="Firebase Cloud Messaging HTTP v1 base URL (messages go to /v1/projects/{project}/messages:send).",
    )
    fcm_token_url: str | None = Field(
        None,
        validation_alias=env("FCM_TOKEN_URL"),
        description="OAuth 2.0 token endpoint for FCM service accounts; unset: each service account's token_uri.",
    )
    apns_api_url: str | None = Field(
        None,
        validation_alias=env("APNS_API_URL"),
        description="APNs base URL for every apn integration; unset: https://api.push.apple.com (production) or https://api.sandbox.push.apple.com.",
    )
