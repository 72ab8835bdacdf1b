"""Credentials of the ``wppconnect`` provider (WhatsApp Web sessions)."""

from __future__ import annotations

from typing import Literal
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
    proxy: WPPConnectProxy | None = Field(
        default=None, description="the proxy this tenant's browser goes through"
    )
