"""export the JSON Schema of the wire models

Print the JSON Schema (wire names) of NotificationRequest, StatusEvent, DeadLetterInfo, each
credentials model and IntegrationSummary, or write one <Model>.schema.json per model into
--out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from schemas.export import json_schemas
from schemas.settings import Settings
from streams.cli._support import add_command, print_json

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "schemas", run, doc=__doc__)
    parser.add_argument("--out", type=Path, help="directory to write <Model>.schema.json files to")


def run(args: argparse.Namespace, settings: Settings) -> int:
    schemas = json_schemas()
    if args.out is None:
        print_json(schemas)
        return 0
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        print(path)
    return 0
