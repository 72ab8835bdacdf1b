"""Provider credentials, validated by a discriminated union on ``providerType``.

Each provider declares its model in its own package (``providers/<service>/_credentials.py``,
named by ``Provider.credentials_model``); this module gathers them from the registry, so
the union has no second hand-written list. :data:`CREDENTIALS_ADAPTER` is what the
integration store validates against, so a missing field is reported by name.

Import order: ``providers`` depends on ``schemas.credentials_base`` only, never on this
module, so building the union from ``providers.registry`` makes no import cycle.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from providers.registry import REGISTRY
from providers.whatsapp_business import WhatsAppBusinessCredentials
from providers.wppconnect import WPPConnectCredentials
from schemas.credentials_base import BaseCredentials

__all__ = [
    "CREDENTIALS_ADAPTER",
    "CREDENTIAL_MODELS",
    "BaseCredentials",
    "ProviderCredentials",
    "WPPConnectCredentials",
    "WhatsAppBusinessCredentials",
]

# ``WPPConnectCredentials`` and ``WhatsAppBusinessCredentials`` stay importable from here for
# the code that imported them before they moved into their provider packages.

#: Every registered provider's credentials model, in registry order (one per provider code).
CREDENTIAL_MODELS: tuple[type[BaseCredentials], ...] = tuple(
    dict.fromkeys(cls.credentials_model for cls in REGISTRY.values())
)

#: ``Annotated[A | B | ..., Field(discriminator="provider_type")]``, built at import time.
ProviderCredentials: Any = Annotated[
    Union.__getitem__(CREDENTIAL_MODELS),
    Field(discriminator="provider_type"),
]

CREDENTIALS_ADAPTER: TypeAdapter[BaseCredentials] = TypeAdapter(ProviderCredentials)
