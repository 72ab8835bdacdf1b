"""Credentials of the ``sendgrid`` provider (Twilio SendGrid v3 Mail Send, signed Event Webhook)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pydantic import Field, SecretStr, StringConstraints, field_validator

from schemas.credentials_base import BaseEmailCredentials

__all__ = ["SendGridCredentials", "normalize_public_key"]

_PEM_LINE = re.compile(r"-----(BEGIN|END) [A-Z ]+-----")


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
