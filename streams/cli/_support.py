"""Helpers shared by the CLI commands: Redis client, output formatting, errors."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from schemas._base import TENANT_ID_PATTERN
from schemas.settings import Settings
from streams.cli.errors import CommandError, redact_url
from streams.platform.redis import redis_for

__all__ = [
    "CommandError",
    "add_actions",
    "add_command",
    "format_table",
    "print_json",
    "redact_url",
    "redis_client",
    "tenant_id",
]

_TENANT = re.compile(TENANT_ID_PATTERN)


def add_command(
    subparsers: argparse._SubParsersAction[Any],
    name: str,
    func: Callable[..., Any] | None = None,
    *,
    doc: str | None = None,
    **options: Any,
) -> argparse.ArgumentParser:
    """The parser of (sub)command ``name`` (``help``, ``description``... in ``options``),
    which runs ``func(args, settings)`` (sync or async) when given.

    ``doc``, a command module's docstring, says both: its first paragraph is the help, the
    second the description (further paragraphs are for the module's readers only).
    """
    if doc is not None:
        summary, description, *_ = [*doc.strip().split("\n\n"), ""]
        text = {"help": " ".join(summary.split()), "description": " ".join(description.split())}
        options = {**text, **options}
    parser: argparse.ArgumentParser = subparsers.add_parser(name, **options)
    if func is not None:
        parser.set_defaults(func=func)
    return parser


def add_actions(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    """The ``ACTION`` sub-commands of ``parser`` (``herald db upgrade``...), one required."""
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION")


def tenant_id(text: str) -> str:
    """An argparse ``type``: a well-formed tenant id (else a usage error naming the rule)."""
    if not _TENANT.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"invalid tenant id {text!r}: letters, digits and . _ : - (up to 128), "
            "starting with a letter or digit"
        )
    return text


#: Seconds a command waits for a TCP connection to Redis (an unreachable host fails fast).
REDIS_CONNECT_TIMEOUT = 5.0


@asynccontextmanager
async def redis_client(settings: Settings) -> AsyncIterator[Redis]:
    client = redis_for(settings, socket_connect_timeout=REDIS_CONNECT_TIMEOUT)
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
