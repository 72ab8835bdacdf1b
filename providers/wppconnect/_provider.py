"""The ``wppconnect`` provider: WhatsApp Web driven in a browser, the WPPConnect way.

The router validates and accepts a request for this provider, then hands it to the
WhatsApp session workers (``handoff_role = "whatsapp"``, topic ``whatsapp.dispatch``).
A session worker holds the tenant's logged-in WhatsApp Web page and performs the
call :meth:`WPPConnectProvider.format_payload` describes; :meth:`send` is never used.
"""

from __future__ import annotations

from typing import ClassVar

from providers.base import Provider, ProviderInfo, SendResult
from providers.wppconnect._credentials import WPPConnectCredentials
from providers.wppconnect._payload import WppCall, build_call
from schemas.credentials_base import BaseCredentials
from schemas.errors import InvalidRequest, PermanentError
from schemas.notification import Channel, NotificationRequest

__all__ = ["WPPConnectProvider"]


class WPPConnectProvider(Provider[WPPConnectCredentials]):
    name: ClassVar[str] = "wppconnect"
    display_name: ClassVar[str] = "WPPConnect"
    channel: ClassVar[Channel] = Channel.WHATSAPP
    credentials_model: ClassVar[type[BaseCredentials]] = WPPConnectCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(
        content_types=("text", "media", "location", "contact"),
        features=(
            "qr_pairing",
            "session_per_tenant",
            "delivery_acks",
            "read_receipts",
            "inbound_messages",
            "session_state_events",
        ),
        docs_url="https://wppconnect.io/docs/tutorial/basics/creating-client",
    )
    handoff_role: ClassVar[str | None] = "whatsapp"

    def validate(self, request: NotificationRequest) -> None:
        if not self.settings.wppconnect_enabled:
            raise InvalidRequest(
                "provider_inactive",
                "the wppconnect provider is disabled (WHATSAPP_WPPCONNECT_ENABLED=false)",
            )
        build_call(request)

    def format_payload(self, request: NotificationRequest) -> WppCall:
        """The ``WPP.chat.*`` call that sends ``request`` (type detected as the seed says)."""
        return build_call(request)

    async def send(self, request: NotificationRequest) -> SendResult:
        raise PermanentError(
            "internal_error",
            "wppconnect messages are sent by the WhatsApp session workers "
            "(`herald worker whatsapp`), not by WPPConnectProvider.send()",
        )
