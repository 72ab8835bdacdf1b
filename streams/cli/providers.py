"""list the seed's providers and their implementation status

List every provider lookup value of the seed with its channel, display name, whether Herald
implements it (or why not) and the credentials it needs.
"""

from __future__ import annotations

import argparse
from typing import Any

from providers.registry import NOT_IMPLEMENTED, get_provider_class
from schemas.settings import Settings
from seeds.data import LOOKUP_TYPES, LOOKUPS
from streams.cli._support import add_command, format_table, print_json

__all__ = ["provider_table", "register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "providers", run, doc=__doc__)
    parser.add_argument("--json", action="store_true", help="print as JSON")


def provider_table() -> list[dict[str, Any]]:
    type_order = {t.type_name: i for i, t in enumerate(LOOKUP_TYPES)}
    rows: list[dict[str, Any]] = []
    for lookup in sorted(LOOKUPS, key=lambda lk: (type_order[lk.type], lk.order_index)):
        cls = get_provider_class(lookup.lookup_code)
        rows.append(
            {
                "code": lookup.lookup_code,
                "channel": str(lookup.channel),
                "displayName": lookup.lookup_value,
                "implemented": cls is not None,
                "reason": None if cls is not None else NOT_IMPLEMENTED.get(lookup.lookup_code),
                "requiredCredentials": [] if cls is None else cls.required_credentials(),
            }
        )
    return rows


def run(args: argparse.Namespace, settings: Settings) -> int:
    rows = provider_table()
    if args.json:
        print_json(rows)
        return 0
    table = [
        [
            r["code"],
            r["channel"],
            r["displayName"],
            "implemented" if r["implemented"] else f"not implemented: {r['reason']}",
            ", ".join(r["requiredCredentials"]) or "-",
        ]
        for r in rows
    ]
    print(format_table(["CODE", "CHANNEL", "NAME", "STATUS", "REQUIRED CREDENTIALS"], table))
    return 0
