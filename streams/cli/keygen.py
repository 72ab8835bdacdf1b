"""print a new secret key for HERALD_SECRET_KEY

Print a new random 32-byte key (URL-safe base64) for HERALD_SECRET_KEY. To rotate, move the
old key to HERALD_PREVIOUS_SECRET_KEYS (comma-separated).
"""

from __future__ import annotations

import argparse
from typing import Any

from schemas.settings import Settings
from streams.cli._support import add_command
from streams.tenancy.crypto import generate_key

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    add_command(subparsers, "keygen", run, doc=__doc__)


def run(args: argparse.Namespace, settings: Settings) -> int:
    print(generate_key())
    return 0
