"""``herald whatsapp ACTION``: the WhatsApp Web worker's own commands.

Each action is a submodule of this package exposing ``register(subparsers)``, listed in
:data:`SUBCOMMANDS` (in the order of ``herald whatsapp --help``).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

__all__ = ["SUBCOMMANDS", "register"]

SUBCOMMANDS = ("doctor", "install")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "whatsapp",
        help="WhatsApp Web: " + ", ".join(SUBCOMMANDS),
        description="Commands of the WhatsApp Web (WPPConnect) worker.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(actions)
