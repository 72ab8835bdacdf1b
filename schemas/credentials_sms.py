"""Credentials of the SMS providers: Twilio and Amazon SNS.

Field names follow the seed's ``TwilioCredentials`` and ``SNSCredentials`` (both extend
``BaseSmsCredentials {fromPhone}``); the few extra optional fields are marked as such.
Secrets are :class:`~pydantic.SecretStr`: never printed, encrypted at rest by the
integration store like every other credential.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints, field_validator, model_validator

from schemas.credentials import BaseCredentials

__all__ = ["SNSCredentials", "TwilioCredentials"]

NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


#: Twilio SIDs: a two-letter prefix and 32 hex digits (34 characters).
AccountSid = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^AC[0-9a-fA-F]{32}$")
]
MessagingServiceSid = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^MG[0-9a-fA-F]{32}$")
]
ApiKeySid = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^SK[0-9a-fA-F]{32}$")]

#: AWS region names: ``us-east-1``, ``eu-central-2``, ``us-gov-west-1``, ``cn-north-1``...
AwsRegion = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z]{2,3}(-[a-z]+)+-[0-9]{1,2}$")
]
#: Access key ids: ``AKIA...`` (long-term) or ``ASIA...`` (temporary), 16 to 128 characters.
AccessKeyId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z0-9]{16,128}$")
]
#: SNS sender ids: 1 to 11 letters and digits (at least one letter: checked below).
SenderId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9]{1,11}$")]


def _blank_to_none(value: object) -> object:
    """The seed's configuration spells "not set" as ``""``."""
    return None if isinstance(value, str) and not value.strip() else value


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
        _blank_to_none
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


class SNSCredentials(BaseCredentials):
    """Amazon SNS SMS (the seed's ``SNSCredentials``).

    ``fromPhone`` is optional here: when set it is sent as the origination number
    (``AWS.MM.SMS.OriginationNumber``); otherwise SNS picks one. ``smsType`` defaults to
    the seed's configuration (``Transactional``).
    """

    provider_type: Literal["sns"] = "sns"
    from_phone: NonEmpty | None = Field(
        None, description="Origination number (E.164) owned by the AWS account (optional)"
    )
    region: AwsRegion = Field(description="e.g. us-east-1")
    access_key_id: AccessKeyId
    secret_access_key: SecretStr
    session_token: SecretStr | None = Field(
        None, description="For temporary (STS) credentials only (optional)"
    )
    sms_type: Literal["Promotional", "Transactional"] = "Transactional"
    sender_id: SenderId | None = Field(
        None, description="AWS.SNS.SMS.SenderID, where the destination supports it (optional)"
    )

    _blank = field_validator("from_phone", "sender_id", mode="before")(_blank_to_none)

    @model_validator(mode="after")
    def _check(self) -> SNSCredentials:
        if not self.secret_access_key.get_secret_value().strip():
            raise ValueError("secretAccessKey must not be empty")
        if self.sender_id is not None and self.sender_id.isdigit():
            raise ValueError("senderId needs at least one letter")
        return self
