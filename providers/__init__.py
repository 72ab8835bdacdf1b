"""Herald's providers: the abstraction, the registry and one package per service.

Shared by every provider: :mod:`providers.base` (the abstraction), :mod:`providers.errors`
(error translation), :mod:`providers.webhooks` (declared webhooks and the interfaces their
handlers get); the error tree itself is :mod:`schemas.errors` (re-exported here).
"""

from __future__ import annotations

from providers.base import Provider, ProviderInfo, RateLimit, SendResult
from providers.registry import NOT_IMPLEMENTED, REGISTRY, get_provider_class, is_implemented
from schemas.errors import (
    HeraldError,
    InvalidCredentials,
    InvalidRequest,
    PermanentError,
    ProviderError,
    ProviderTimeout,
    RetryableError,
)

__all__ = [
    "NOT_IMPLEMENTED",
    "REGISTRY",
    "HeraldError",
    "InvalidCredentials",
    "InvalidRequest",
    "PermanentError",
    "Provider",
    "ProviderError",
    "ProviderInfo",
    "ProviderTimeout",
    "RateLimit",
    "RetryableError",
    "SendResult",
    "get_provider_class",
    "is_implemented",
]
