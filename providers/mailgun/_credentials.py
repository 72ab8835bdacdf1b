"""Credentials of the ``mailgun`` provider (Mailgun Messages API and webhooks)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from schemas.credentials_base import BaseEmailCredentials, NonEmpty

__all__ = ["MailgunCredentials"]

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class MailgunCredentials(BaseEmailCredentials):
    """Mailgun Messages API (the seed's ``MailgunCredentials``)."""

    provider_type: Literal["mailgun"] = "mailgun"
    api_key: SecretStr = Field(description="Mailgun API key (basic auth user 'api')")
    domain: NonEmpty = Field(description="Sending domain, e.g. mg.example.com")
    region: Literal["us", "eu"] = Field(
        default="us", description="us: api.mailgun.net; eu: api.eu.mailgun.net"
    )
    webhook_signing_key: SecretStr | None = Field(
        default=None, description="HTTP webhook signing key: verifies webhook signatures"
    )

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        domain = value.lower().rstrip(".")
        if not _DOMAIN.fullmatch(domain):
            raise ValueError("must be a domain name such as mg.example.com")
        return domain
