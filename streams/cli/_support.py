"""Helpers shared by the CLI commands: Redis client, output formatting, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis

from providers._exceptions import HeraldError
from schemas.settings import Settings
from streams.platform.redis import redis_for

__all__ = ["CommandError", "format_table", "print_json", "redact_url", "redis_client"]


class CommandError(HeraldError):
    """A command's input is unusable; the message says why."""


def redact_url(url: str) -> str:
    """``url`` without its password (for error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    hosts = parts.netloc.rpartition("@")[2]  # one host:port, or a Redis Cluster's list
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + hosts))


@asynccontextmanager
async def redis_client(settings: Settings) -> AsyncIterator[Redis]:
    client = redis_for(settings)
    try:
        yield client
    finally:
        await client.aclose()


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)
