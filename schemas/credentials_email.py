"""Credentials of the email providers (SendGrid, AWS SES v2, Mailgun).

Field names follow the seed's ``BaseEmailCredentials`` (``fromEmail``, ``fromName``,
``replyTo``) and its ``SendGridCredentials`` / ``SESCredentials`` / ``MailgunCredentials``,
plus what each service needs to send and to verify its webhooks. Secrets are
:class:`~pydantic.SecretStr`; validation errors never echo a value.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, SecretStr, StringConstraints, field_validator

from schemas.credentials import BaseCredentials

__all__ = [
    "BaseEmailCredentials",
    "EmailAddress",
    "MailgunCredentials",
    "SESCredentials",
    "SendGridCredentials",
    "normalize_email",
    "normalize_public_key",
]

NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

_PEM_LINE = re.compile(r"-----(BEGIN|END) [A-Z ]+-----")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalize_email(value: str) -> str:
    """The address in ASCII form (IDN domains punycoded); ``ValueError`` when invalid.

    Strict: a dot in the domain, no SMTPUTF8 local parts (SES and most relays refuse them),
    no display name, no deliverability (DNS) check.
    """
    try:
        checked = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address ({exc})") from None
    return checked.ascii_email or checked.normalized


EmailAddress = Annotated[str, AfterValidator(normalize_email)]


def normalize_public_key(value: str) -> str:
    """A SendGrid verification key as one base64 line; ``ValueError`` unless ECDSA P-256.

    SendGrid shows the key as base64 of its DER SubjectPublicKeyInfo; PEM armour and line
    breaks are tolerated and removed.
    """
    text = "".join(_PEM_LINE.sub("", value).split())
    try:
        key = load_der_public_key(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a base64 DER public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key")
    return text


class BaseEmailCredentials(BaseCredentials):
    """What every email integration has (the seed's ``BaseEmailCredentials``)."""

    from_email: EmailAddress = Field(description="Sender address; must be verified at the service")
    from_name: NonEmpty = Field(description="Sender display name")
    reply_to: EmailAddress | None = None


class SendGridCredentials(BaseEmailCredentials):
    """Twilio SendGrid v3 Mail Send (the seed's ``SendGridCredentials``)."""

    provider_type: Literal["sendgrid"] = "sendgrid"
    api_key: SecretStr = Field(description="API key with the mail.send scope (Bearer token)")
    webhook_public_key: str | None = Field(
        default=None,
        description="Signed Event Webhook verification key (base64 DER, ECDSA P-256)",
    )
    track_opens: bool | None = None
    track_clicks: bool | None = None
    categories: list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] | None = (
        Field(default=None, max_length=10)
    )

    @field_validator("webhook_public_key")
    @classmethod
    def _public_key(cls, value: str | None) -> str | None:
        return None if value is None else normalize_public_key(value)


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
