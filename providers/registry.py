"""The provider registry: lookup code -> implementation.

Adding a provider = one module + one line in ``_IMPLEMENTED`` (+ its fake server and its
contract-test subclass). Providers the seed lists but Herald does not implement yet are
named, with the reason, in ``NOT_IMPLEMENTED``; a test keeps both in step with the seed's
lookups.
"""

from __future__ import annotations

from typing import Any

from providers.base import Provider
from providers.whatsapp_business import WhatsAppBusinessProvider

__all__ = ["NOT_IMPLEMENTED", "REGISTRY", "get_provider_class", "is_implemented"]

_IMPLEMENTED: tuple[type[Provider[Any]], ...] = (WhatsAppBusinessProvider,)

REGISTRY: dict[str, type[Provider[Any]]] = {cls.name: cls for cls in _IMPLEMENTED}

#: Seed providers without an implementation yet, and where their work is tracked.
NOT_IMPLEMENTED: dict[str, str] = {
    "sendgrid": "email: planned (SendGrid, SES, Mailgun issue)",
    "ses": "email: planned (SendGrid, SES, Mailgun issue)",
    "mailgun": "email: planned (SendGrid, SES, Mailgun issue)",
    "twilio": "sms: planned (Twilio, SNS issue)",
    "sns": "sms: planned (Twilio, SNS issue)",
    "firebase": "push: planned (FCM, APNs, inbox issue)",
    "apn": "push: planned (FCM, APNs, inbox issue)",
    "wppconnect": "whatsapp web: planned (WPPConnect issue)",
    "database": "inbox: planned (FCM, APNs, inbox issue)",
}


def get_provider_class(name: str) -> type[Provider[Any]] | None:
    return REGISTRY.get(name)


def is_implemented(name: str) -> bool:
    return name in REGISTRY
