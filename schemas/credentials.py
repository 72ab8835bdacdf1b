"""Provider credentials, validated by a discriminated union on ``providerType``.

Each provider declares its model here; :data:`ProviderCredentials` is the union the
integration store validates against, so a missing field is reported by name.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, SecretStr, StringConstraints, TypeAdapter

from schemas._base import WireModel

__all__ = [
    "CREDENTIALS_ADAPTER",
    "APNCredentials",
    "BaseCredentials",
    "DatabaseCredentials",
    "FirebaseCredentials",
    "MailgunCredentials",
    "ProviderCredentials",
    "SESCredentials",
    "SNSCredentials",
    "SendGridCredentials",
    "TwilioCredentials",
    "WPPConnectCredentials",
    "WhatsAppBusinessCredentials",
]

NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class BaseCredentials(WireModel):
    """Common base; ``provider_type`` is the provider's lookup code."""

    model_config = ConfigDict(extra="forbid")

    provider_type: str

    def secret_fields(self) -> list[str]:
        return [name for name, value in self if isinstance(value, SecretStr)]


class WhatsAppBusinessCredentials(BaseCredentials):
    """WhatsApp Business Cloud API (the seed's ``WhatsAppBusinessCredentials``)."""

    provider_type: Literal["whatsapp-business"] = "whatsapp-business"
    phone_number_id: NonEmpty
    access_token: SecretStr
    app_secret: SecretStr = Field(description="Meta app secret: verifies X-Hub-Signature-256")
    verify_token: SecretStr = Field(description="Answers the webhook's hub.verify_token check")
    business_account_id: str | None = None


class WPPConnectCredentials(BaseCredentials):
    """WhatsApp Web through a headless browser (the seed's ``WPPConnectCredentials``)."""

    provider_type: Literal["wppconnect"] = "wppconnect"
    session_name: NonEmpty
    phone_number_id: NonEmpty
    auto_close: int | None = Field(
        default=None, ge=0, description="ms before an unscanned QR closes"
    )
    disable_welcome: bool | None = None
    qr_timeout: int | None = Field(default=None, ge=0, description="ms a QR code stays valid")
    use_chrome: bool | None = None


# The email models subclass BaseCredentials, so they are imported once it exists.
from schemas.credentials_email import (  # noqa: E402
    MailgunCredentials,
    SendGridCredentials,
    SESCredentials,
)
from schemas.credentials_inbox import DatabaseCredentials  # noqa: E402
from schemas.credentials_push import APNCredentials, FirebaseCredentials  # noqa: E402
from schemas.credentials_sms import SNSCredentials, TwilioCredentials  # noqa: E402

ProviderCredentials = Annotated[
    WhatsAppBusinessCredentials
    | WPPConnectCredentials
    | SendGridCredentials
    | SESCredentials
    | MailgunCredentials
    | FirebaseCredentials
    | APNCredentials
    | TwilioCredentials
    | SNSCredentials
    | DatabaseCredentials,
    Field(discriminator="provider_type"),
]

CREDENTIALS_ADAPTER: TypeAdapter[
    WhatsAppBusinessCredentials
    | WPPConnectCredentials
    | SendGridCredentials
    | SESCredentials
    | MailgunCredentials
    | FirebaseCredentials
    | APNCredentials
    | TwilioCredentials
    | SNSCredentials
    | DatabaseCredentials
] = TypeAdapter(ProviderCredentials)
