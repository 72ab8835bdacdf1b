"""Credentials of the ``twilio`` provider (Twilio Programmable Messaging).

Field names follow the seed's ``TwilioCredentials`` (which extends ``BaseSmsCredentials {fromPhone}``).
Secrets are :class:`~pydantic.SecretStr`: never printed, encrypted at rest by the
integration store like every other credential.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints, field_validator, model_validator

from schemas.credentials_base import BaseCredentials, NonEmpty, blank_to_none

__all__ = ["TwilioCredentials"]

#: Twilio SIDs: a two-letter prefix and 32 hex digits (34 characters).
AccountSid = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^AC[0-9a-fA-F]{32}$")
]
MessagingServiceSid = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^MG[0-9a-fA-F]{32}$")
]
ApiKeySid = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^SK[0-9a-fA-F]{32}$")]


class TwilioCredentials(BaseCredentials):
    """Twilio Programmable Messaging (the seed's ``TwilioCredentials``).

    ``authToken`` is always required: Twilio signs status callbacks with it. Requests
    authenticate as ``accountSid:authToken``, or as ``apiKeySid:apiKeySecret`` when an API
    key is given (Twilio's recommended production set-up). Messages go out from
    ``messagingServiceSid`` if set, else from ``fromPhone``.
    """

    provider_type: Literal["twilio"] = "twilio"
    from_phone: NonEmpty | None = Field(
        None,
        description="Sender: a Twilio number (E.164), short code or alphanumeric sender id. "
        "Required unless messagingServiceSid is set.",
    )
    account_sid: AccountSid = Field(description="AC... (34 characters)")
    auth_token: SecretStr = Field(description="Verifies X-Twilio-Signature; basic-auth password")
    messaging_service_sid: MessagingServiceSid | None = Field(
        None, description="MG...: send through this Messaging Service instead of fromPhone"
    )
    api_key_sid: ApiKeySid | None = Field(None, description="SK... (optional, with apiKeySecret)")
    api_key_secret: SecretStr | None = Field(None, description="Secret of apiKeySid (optional)")

    _blank = field_validator("from_phone", "messaging_service_sid", "api_key_sid", mode="before")(
        blank_to_none
    )

    @model_validator(mode="after")
    def _check(self) -> TwilioCredentials:
        if not self.auth_token.get_secret_value().strip():
            raise ValueError("authToken must not be empty")
        if self.from_phone is None and self.messaging_service_sid is None:
            raise ValueError("fromPhone or messagingServiceSid is required")
        if (self.api_key_sid is None) != (self.api_key_secret is None):
            raise ValueError("apiKeySid and apiKeySecret go together")
        return self
