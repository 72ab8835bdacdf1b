"""The provider registry: lookup code -> implementation.

Adding a provider = one package ``providers/<service>/`` + one line in ``_IMPLEMENTED`` (+ its
fake, its seed row and a settings field for its URL: README's "Adding a provider").
Everything else reads this registry: the credentials union (``schemas.credentials``), the
webhooks the web server mounts (``Provider.webhooks``), the HTTP transports. Providers the seed lists but Herald does not implement yet are
named, with the reason, in ``NOT_IMPLEMENTED``; a test keeps both in step with the seed's
lookups.
"""

from __future__ import annotations

from typing import Any

from providers.apn import APNProvider
from providers.base import Provider
from providers.database import DatabaseProvider
from providers.firebase import FirebaseProvider
from providers.mailgun import MailgunProvider
from providers.sendgrid import SendGridProvider
from providers.ses import SESProvider
from providers.sns import SNSProvider
from providers.twilio import TwilioProvider
from providers.whatsapp_business import WhatsAppBusinessProvider
from providers.wppconnect import WPPConnectProvider

__all__ = ["NOT_IMPLEMENTED", "REGISTRY", "get_provider_class", "is_implemented"]

_IMPLEMENTED: tuple[type[Provider[Any]], ...] = (
    WhatsAppBusinessProvider,
    WPPConnectProvider,
    TwilioProvider,
    SNSProvider,
    DatabaseProvider,
    SendGridProvider,
    SESProvider,
    MailgunProvider,
    FirebaseProvider,
    APNProvider,
)

REGISTRY: dict[str, type[Provider[Any]]] = {cls.name: cls for cls in _IMPLEMENTED}

#: Seed providers without an implementation yet, and where their work is tracked.
NOT_IMPLEMENTED: dict[str, str] = {}


def get_provider_class(name: str) -> type[Provider[Any]] | None:
    return REGISTRY.get(name)


def is_implemented(name: str) -> bool:
    return name in REGISTRY
