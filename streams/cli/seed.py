"""load the provider lookup data into Redis (idempotent)

Write the provider lookup types, lookup values and provider rows to Redis. Running it again
changes nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

from schemas.settings import Settings
from seeds import load_seeds
from streams.cli._support import add_command, format_table, print_json, redis_client

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "seed", run, doc=__doc__)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    async with redis_client(settings) as redis:
        report = await load_seeds(redis)
    if args.json:
        print_json(report.as_dict())
        return 0
    rows = [
        [name, counts["created"], counts["updated"], counts["unchanged"]]
        for name, counts in report.as_dict().items()
    ]
    rows.append(["total", report.created, report.updated, report.unchanged])
    print(format_table(["COLLECTION", "CREATED", "UPDATED", "UNCHANGED"], rows))
    return 0
