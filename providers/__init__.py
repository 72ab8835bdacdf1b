"""Herald's providers: the abstraction, the error tree, the registry and the implementations."""

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
