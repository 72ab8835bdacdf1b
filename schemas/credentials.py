"""Provider credentials, validated by a discriminated union on ``providerType``.

Each provider declares its model in its own package (``providers/<service>/_credentials.py``,
named by ``Provider.credentials_model``); this module gathers them from the registry, so
the union has no second hand-written list. :data:`CREDENTIALS_ADAPTER` is what the
integration store validates against, so a missing field is reported by name.

Import order: ``providers`` depends on ``schemas.credentials_base`` only, never on this
module, so building the union from ``providers.registry`` makes no import cycle.
"""

from __future__ import annotations

from functools import cache
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
    "credential_models",
    "credentials_adapter",
]

# ``WPPConnectCredentials`` and ``WhatsAppBusinessCredentials`` stay importable from here for
# the code that imported them before they moved into their provider packages.


def credential_models() -> tuple[type[BaseCredentials], ...]:
    """Every registered provider's credentials model, in registry order (one per code)."""
    return tuple(dict.fromkeys(cls.credentials_model for cls in REGISTRY.values()))


def _union(models: tuple[type[BaseCredentials], ...]) -> Any:
    """``Annotated[A | B | ..., Field(discriminator="provider_type")]``."""
    return Annotated[
        Union.__getitem__(models),
        Field(discriminator="provider_type"),
    ]


@cache
def _adapter(models: tuple[type[BaseCredentials], ...]) -> TypeAdapter[BaseCredentials]:
    adapter: TypeAdapter[BaseCredentials] = TypeAdapter(_union(models))
    return adapter


def credentials_adapter() -> TypeAdapter[BaseCredentials]:
    """The discriminated union of :func:`credential_models` (rebuilt if the registry grows)."""
    return _adapter(credential_models())


#: The models and the union at import time (what the JSON Schema export documents).
CREDENTIAL_MODELS: tuple[type[BaseCredentials], ...] = credential_models()
CREDENTIALS_ADAPTER: TypeAdapter[BaseCredentials] = credentials_adapter()
ProviderCredentials: Any = _union(CREDENTIAL_MODELS)
