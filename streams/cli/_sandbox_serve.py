"""What every ``herald sandbox <service>`` command shares: its parser and its serving loop."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sandbox import serve_app
from streams.cli._support import add_command

__all__ = ["add_service", "csv", "serve_until_interrupted"]


def add_service(
    services: Any, name: str, func: Callable[..., Any], *, port: int
) -> argparse.ArgumentParser:
    """The ``herald sandbox <name>`` parser, running ``func``, with ``--host`` and ``--port``;
    ``func``'s docstring is its help (first paragraph) and description (second)."""
    parser = add_command(services, name, func, doc=func.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    return parser


def csv(raw: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (``""``: none)."""
    return [item.strip() for item in raw.split(",") if item.strip()]


async def serve_until_interrupted(
    fake: Any,
    args: argparse.Namespace,
    lines: Callable[[str], list[str]],
    server: AbstractAsyncContextManager[str] | None = None,
) -> int:
    """Serve ``fake`` (its aiohttp app, or ``server``), print ``lines(base_url)``, wait.

    The fake is closed when the command is interrupted.
    """
    served = server or serve_app(fake.app, host=args.host, port=args.port)
    async with served as base_url:
        for line in lines(base_url):
            print(line, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await fake.close()
    return 0
