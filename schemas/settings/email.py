"""Channel ``email``: SendGrid, SES and Mailgun endpoints and webhook checks."""

from __future__ import annotations

from pydantic import Field

from schemas.settings._env import Section, env

__all__ = ["EmailSettings"]


class EmailSettings(Section):
    """Channel ``email``: SendGrid, SES and Mailgun endpoints and webhook checks."""

    sendgrid_api_url: str = Field(
        "https://api.sendgrid.com",
        validation_alias=env("SENDGRID_API_URL"),
        description="SendGrid v3 API base URL (mail goes to /v3/mail/send); https://api.eu.sendgrid.com for EU subusers.",
    )
    ses_endpoint_url: str = Field(
        "https://email.{region}.amazonaws.com",
        validation_alias=env("SES_ENDPOINT_URL"),
        description="Amazon SES API v2 endpoint; {region} is replaced by the integration's region.",
    )
    mailgun_api_url: str = Field(
        "https://api.mailgun.net",
        validation_alias=env("MAILGUN_API_URL"),
        description="Mailgun API base URL for domains in the US region (region 'us').",
    )
    mailgun_eu_api_url: str = Field(
        "https://api.eu.mailgun.net",
        validation_alias=env("MAILGUN_EU_API_URL"),
        description="Mailgun API base URL for domains in the EU region (region 'eu').",
    )
    mailgun_webhook_max_age_seconds: int = Field(
        900,
        ge=10,
        validation_alias=env("MAILGUN_WEBHOOK_MAX_AGE_SECONDS"),
        description="Mailgun webhooks signed longer ago are refused; their tokens are remembered this long to refuse replays.",
    )
