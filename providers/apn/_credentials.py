"""Credentials of the ``apn`` provider: token-based APNs authentication.

The ``.p8`` signing key (``privateKey``, PEM), its ``keyId``, the ``teamId``, the app's
``bundleId`` (the default ``apns-topic``) and ``production`` (``api.push.apple.com``) or not
(``api.sandbox.push.apple.com``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from schemas.credentials_base import BaseCredentials, NonEmpty, unescape_pem

__all__ = ["APNCredentials"]


class APNCredentials(BaseCredentials):
    """Apple Push Notification service, token-based (the seed's ``APNCredentials``)."""

    provider_type: Literal["apn"] = "apn"
    key_id: NonEmpty = Field(description="The signing key's 10-character Key ID")
    team_id: NonEmpty = Field(description="The 10-character Team ID (the JWT's iss)")
    bundle_id: NonEmpty = Field(description="The app's bundle id: the default apns-topic")
    private_key: SecretStr = Field(description="The .p8 signing key (PEM, EC P-256)")
    production: bool = Field(
        default=False, description="api.push.apple.com if true, else api.sandbox.push.apple.com"
    )
    project_id: str | None = Field(
        default=None, description="Accepted for the seed's shape (BaseFcmCredentials); unused"
    )

    @field_validator("private_key", mode="before")
    @classmethod
    def _unescape(cls, value: Any) -> Any:
        return unescape_pem(value)
