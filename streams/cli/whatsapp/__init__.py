"""``herald whatsapp <command>``: the WhatsApp Web worker's own tools.

Each subcommand is a module of this package exposing ``register(subcommands)``; adding
one is one entry in :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

__all__ = ["SUBCOMMANDS", "register"]

#: The subcommands, in the order of ``herald whatsapp --help``.
SUBCOMMANDS = ("install",)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "whatsapp",
        help="the WhatsApp Web worker's tools: " + ", ".join(SUBCOMMANDS),
        description="Tools of the WhatsApp Web (wppconnect) worker.",
    )
    subcommands = parser.add_subparsers(dest="whatsapp_command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subcommands)
