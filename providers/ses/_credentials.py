"""Credentials of the ``ses`` provider (Amazon SES API v2)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from schemas.credentials_base import BaseEmailCredentials, NonEmpty

__all__ = ["SESCredentials"]

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


class SESCredentials(BaseEmailCredentials):
    """Amazon SES API v2 (the seed's ``SESCredentials``)."""

    provider_type: Literal["ses"] = "ses"
    region: NonEmpty = Field(description="AWS region of the SES identities, e.g. us-east-1")
    access_key_id: NonEmpty
    secret_access_key: SecretStr
    session_token: SecretStr | None = Field(
        default=None, description="For temporary (STS) credentials"
    )
    configuration_set: str | None = Field(
        default=None, description="SES configuration set to send with (ConfigurationSetName)"
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ValueError("must be an AWS region code such as us-east-1")
        return value
