"""Credentials of the ``wppconnect`` provider (WhatsApp Web sessions)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.credentials_base import BaseCredentials, NonEmpty

__all__ = ["WPPConnectCredentials"]


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
