"""Credentials of the ``sns`` provider (Amazon SNS SMS).

Field names follow the seed's ``SNSCredentials`` (which extends ``BaseSmsCredentials {fromPhone}``).
Secrets are :class:`~pydantic.SecretStr`: never printed, encrypted at rest by the
integration store like every other credential.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints, field_validator, model_validator

from schemas.credentials_base import BaseCredentials, NonEmpty, blank_to_none

__all__ = ["SNSCredentials"]

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

    _blank = field_validator("from_phone", "sender_id", mode="before")(blank_to_none)

    @model_validator(mode="after")
    def _check(self) -> SNSCredentials:
        if not self.secret_access_key.get_secret_value().strip():
            raise ValueError("secretAccessKey must not be empty")
        if self.sender_id is not None and self.sender_id.isdigit():
            raise ValueError("senderId needs at least one letter")
        return self
