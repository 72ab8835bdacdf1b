"""Credentials of the ``firebase`` provider (FCM HTTP v1 through a Google service account).

``firebase`` takes the Google service account either whole (``serviceAccount``: the JSON key
file, as a string or an object) or as the seed's fields (``privateKey``, ``clientEmail``,
optional ``tokenUri`` and ``privateKeyId``). ``projectId`` names the Firebase project the
messages are sent through (the seed's ``BaseFcmCredentials.projectId``; required).
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import Field, SecretStr, field_validator, model_validator

from schemas.credentials_base import BaseCredentials, NonEmpty, unescape_pem

__all__ = ["GOOGLE_TOKEN_URI", "FirebaseCredentials"]

#: Google's OAuth 2.0 token endpoint (the ``token_uri`` of every service account key file).
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"

_SERVICE_ACCOUNT_REQUIRED = ("client_email", "private_key")


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
        return unescape_pem(value)

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
            info["private_key"] = unescape_pem(info.get("private_key"))
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
