"""Channel ``sms``: Twilio and SNS endpoints."""

from __future__ import annotations

from pydantic import Field

from schemas.settings._env import Section, env

__all__ = ["SmsSettings"]


class SmsSettings(Section):
    """Channel ``sms``: Twilio and SNS endpoints."""

    twilio_api_url: str = Field(
        "https://api.twilio.com",
        validation_alias=env("TWILIO_API_URL"),
        description="Twilio REST API base URL (messages go to /2010-04-01/Accounts/{AccountSid}/Messages.json).",
    )
    sns_endpoint_url: str = Field(
        "https://sns.{region}.amazonaws.com",
        validation_alias=env("SNS_ENDPOINT_URL"),
        description="Amazon SNS query API endpoint; {region} is replaced by the integration's region.",
    )
