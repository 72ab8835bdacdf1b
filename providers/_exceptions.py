"""Kept for imports written before the error tree moved to :mod:`schemas.errors`."""

from __future__ import annotations

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
    "HeraldError",
    "InvalidCredentials",
    "InvalidRequest",
    "PermanentError",
    "ProviderError",
    "ProviderTimeout",
    "RetryableError",
]
