"""print the AsyncAPI 3.0 document of Herald's topics

Print (or write to --out) the AsyncAPI 3.0 document of every topic Herald reads or writes,
with the topic names of the current configuration. --defaults ignores the environment
(docs/asyncapi.yaml is generated that way).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from schemas.asyncapi import asyncapi_document, asyncapi_yaml, default_asyncapi_yaml
from schemas.settings import Settings
from streams.cli._support import add_command

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "asyncapi", run, doc=__doc__)
    parser.add_argument("--out", type=Path, help="file to write instead of standard output")
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml")
    parser.add_argument(
        "--defaults", action="store_true", help="use the default topic names, not the environment"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.format == "json":
        chosen = Settings.model_construct() if args.defaults else settings
        text = json.dumps(asyncapi_document(chosen), indent=2) + "\n"
    else:
        text = default_asyncapi_yaml() if args.defaults else asyncapi_yaml(settings)
    if args.out is None:
        print(text, end="")
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0
