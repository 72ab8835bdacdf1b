"""Credentials of the ``whatsapp-business`` provider (Meta's WhatsApp Business Cloud API)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from schemas.credentials_base import BaseCredentials, NonEmpty

__all__ = ["WhatsAppBusinessCredentials"]


class WhatsAppBusinessCredentials(BaseCredentials):
    """WhatsApp Business Cloud API (the seed's ``WhatsAppBusinessCredentials``)."""

    provider_type: Literal["whatsapp-business"] = "whatsapp-business"
    phone_number_id: NonEmpty
    access_token: SecretStr
    app_secret: SecretStr = Field(description="Meta app secret: verifies X-Hub-Signature-256")
    verify_token: SecretStr = Field(description="Answers the webhook's hub.verify_token check")
    business_account_id: str | None = None
