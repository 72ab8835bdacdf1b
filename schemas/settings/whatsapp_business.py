"""Channel ``whatsapp``: the WhatsApp Business Cloud API."""

from __future__ import annotations

from pydantic import Field

from schemas.settings._env import Section, env

__all__ = ["WhatsAppBusinessSettings"]


class WhatsAppBusinessSettings(Section):
    """Channel ``whatsapp``: the WhatsApp Business Cloud API."""

    whatsapp_business_api_url: str = Field(
        "https://graph.facebook.com/v23.0",
        validation_alias=env("WHATSAPP_BUSINESS_API_URL"),
        description="Graph API base URL including the pinned version.",
    )
