"""Credentials of the ``wppconnect`` provider (WhatsApp Web sessions).

A tenant may hold several (a support and a sales number), one per ``sessionName``;
a request picks one with ``sender`` (docs/whatsapp-web.md, "Several numbers per tenant").
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from schemas._base import WireModel
from schemas.credentials_base import BaseCredentials, NonEmpty

__all__ = ["WPPConnectCredentials", "WPPConnectProxy"]

_SCHEMES = ("http", "https", "socks5")


class WPPConnectProxy(WireModel):
    """The proxy the session's browser goes through (Chromium's ``--proxy-server``)."""

    model_config = ConfigDict(extra="forbid")

    server: NonEmpty = Field(
        description="http://host:port, https://host:port or socks5://host:port "
        "(host:port means http)"
    )
    username: NonEmpty | None = Field(default=None, description="proxy user (HTTP proxies)")
    password: SecretStr | None = Field(default=None, description="proxy password (a secret)")

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        text = value if "://" in value else f"http://{value}"
        parts = urlsplit(text)
        if parts.scheme not in _SCHEMES or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError("must be scheme://host:port with scheme http, https or socks5")
        if parts.username or parts.password:
            raise ValueError("put the credentials in username and password, not in the URL")
        try:
            parts.port  # noqa: B018 (raises on a port that is not a number)
        except ValueError:
            raise ValueError("the port must be a number") from None
        return f"{parts.scheme}://{parts.netloc}"

    @model_validator(mode="after")
    def _auth(self) -> WPPConnectProxy:
        if self.password is not None and self.username is None:
            raise ValueError("password needs a username")
        if self.username is not None and self.server.startswith("socks5://"):
            raise ValueError("Chromium cannot authenticate to a SOCKS5 proxy: use an HTTP proxy")
        return self


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
    proxy: WPPConnectProxy | None = Field(
        default=None, description="the proxy this session's browser goes through"
    )

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
