"""Credentials of the ``wppconnect`` provider (WhatsApp Web sessions).

A tenant may hold several (a support and a sales number), one per ``sessionName``;
a request picks one with ``sender`` (docs/whatsapp-web.md, "Several numbers per tenant").
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from schemas.credentials_base import BaseCredentials, NonEmpty

__all__ = ["WPPConnectCredentials"]


class WPPConnectCredentials(BaseCredentials):
    """WhatsApp Web through a headless browser (the seed's ``WPPConnectCredentials``).

    ``phoneNumberId``: when it is a phone number (digits, optionally with ``+``, spaces
    or dashes; 8 to 15 digits), the session must be logged in as that number -- a login
    by another number is reported (``wrongNumber``) and logged out. Any other value is a
    label. ``useChrome`` (the seed's per-tenant switch) is accepted and ignored: the
    browser is the worker's (``WHATSAPP_WPPCONNECT_USE_CHROME``).
    """

    provider_type: Literal["wppconnect"] = "wppconnect"
    instance_field: ClassVar[str | None] = "session_name"
    session_name: NonEmpty = Field(
        description="the session's name, unique per tenant; a request's `sender` names it"
    )
    phone_number_id: NonEmpty = Field(
        description="the number the session must be logged in as (digits), or a label"
    )
    auto_close: int | None = Field(
        default=None, ge=0, description="ms before an unscanned QR closes"
    )
    disable_welcome: bool | None = None
    qr_timeout: int | None = Field(default=None, ge=0, description="ms a QR code stays valid")

    @model_validator(mode="before")
    @classmethod
    def _drop_use_chrome(cls, data: Any) -> Any:
        """Integrations stored with ``useChrome`` still load; the value has no effect."""
        if isinstance(data, dict) and ("useChrome" in data or "use_chrome" in data):
            data = {k: v for k, v in data.items() if k not in ("useChrome", "use_chrome")}
        return data

    def expected_phone(self) -> str | None:
        """The digits the session must be logged in as, when ``phoneNumberId`` is a number."""
        text = self.phone_number_id.strip()
        if not all(c.isdigit() or c in "+ -()" for c in text):
            return None
        digits = "".join(c for c in text if c.isdigit())
        if 8 <= len(digits) <= 15 and not digits.startswith("0"):
            return digits
        return None
