"""Credentials of the push providers on channel ``fcm``: Firebase (FCM HTTP v1) and APNs.

``firebase`` takes the Google service account either whole (``serviceAccount``: the JSON key
file, as a string or an object) or as the seed's fields (``privateKey``, ``clientEmail``,
optional ``tokenUri`` and ``privateKeyId``). ``projectId`` names the Firebase project the
messages are sent through (the seed's ``BaseFcmCredentials.projectId``; required).

``apn`` is token-based APNs authentication: the ``.p8`` signing key (``privateKey``, PEM),
its ``keyId``, the ``teamId``, the app's ``bundleId`` (the default ``apns-topic``) and
``production`` (``api.push.apple.com``) or not (``api.sandbox.push.apple.com``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, SecretStr, StringConstraints, field_validator, model_validator

from schemas.credentials import BaseCredentials

__all__ = [
    "GOOGLE_TOKEN_URI",
    "APNCredentials",
    "FirebaseCredentials",
]

NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

#: Google's OAuth 2.0 token endpoint (the ``token_uri`` of every service account key file).
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"

_SERVICE_ACCOUNT_REQUIRED = ("client_email", "private_key")


def _pem(value: Any) -> Any:
    """Keys pasted through environment variables often carry literal ``\\n``: unescape them."""
    if isinstance(value, str) and "\\n" in value and "-----BEGIN" in value:
        return value.replace("\\n", "\n")
    return value


class FirebaseCredentials(BaseCredentials):
    """Firebase Cloud Messaging HTTP v1 through a Google service account.

    Give either ``serviceAccount`` (the whole JSON key file) or ``privateKey`` and
    ``clientEmail`` (the seed's ``FirebaseCredentials``); not both.
    """

    provider_type: Literal["firebase"] = "firebase"
    project_id: NonEmpty = Field(description="The Firebase project id messages are sent through")
    service_account: SecretStr | None = Field(
        default=None, description="The service account JSON key file (string or object)"
    )
    private_key: SecretStr | None = Field(
        default=None, description="The service account's private_key (PEM)"
    )
    client_email: NonEmpty | None = None
    private_key_id: str | None = None
    token_uri: str | None = Field(
        default=None, description=f"OAuth 2.0 token endpoint; default {GOOGLE_TOKEN_URI}"
    )

    @field_validator("service_account", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return orjson.dumps(value).decode()
        return value

    @field_validator("private_key", mode="before")
    @classmethod
    def _unescape(cls, value: Any) -> Any:
        return _pem(value)

    @model_validator(mode="after")
    def _one_form(self) -> FirebaseCredentials:
        if self.service_account is not None:
            if self.private_key is not None or self.client_email is not None:
                raise ValueError("give serviceAccount or privateKey/clientEmail, not both")
            info = self._parsed_service_account()
            missing = [k for k in _SERVICE_ACCOUNT_REQUIRED if not info.get(k)]
            if missing:
                raise ValueError(f"serviceAccount lacks {', '.join(missing)}")
        else:
            if self.private_key is None or self.client_email is None:
                raise ValueError("serviceAccount, or privateKey and clientEmail, are required")
        return self

    def _parsed_service_account(self) -> dict[str, Any]:
        assert self.service_account is not None
        try:
            info = orjson.loads(self.service_account.get_secret_value())
        except orjson.JSONDecodeError:
            raise ValueError("serviceAccount is not JSON") from None
        if not isinstance(info, dict):
            raise ValueError("serviceAccount must be a JSON object")
        return info

    def service_account_info(self, *, token_uri: str | None = None) -> dict[str, Any]:
        """The key file's fields, as google-auth's ``from_service_account_info`` takes them.

        ``token_uri`` (a setting) wins over the account's own ``token_uri``.
        """
        if self.service_account is not None:
            info = dict(self._parsed_service_account())
            info["private_key"] = _pem(info.get("private_key"))
        else:
            assert self.private_key is not None
            info = {
                "type": "service_account",
                "project_id": self.project_id,
                "private_key": self.private_key.get_secret_value(),
                "client_email": self.client_email,
            }
            if self.private_key_id:
                info["private_key_id"] = self.private_key_id
            if self.token_uri:
                info["token_uri"] = self.token_uri
        info["token_uri"] = token_uri or info.get("token_uri") or GOOGLE_TOKEN_URI
        return info


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
        return _pem(value)
