"""Lenient readers shared by the providers' error tables (foreign bodies and headers)."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["as_int", "retry_after", "truncate"]


def retry_after(headers: httpx.Headers) -> float | None:
    """``Retry-After`` in seconds, if present, numeric and under a day; else ``None``."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None


def as_int(value: Any) -> int | None:
    """An int from an int or a digit string (booleans are not numbers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def truncate(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
