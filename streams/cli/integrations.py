"""manage per-tenant provider credentials

Store, list and remove a tenant's provider integrations. Credentials are validated, then
encrypted with HERALD_SECRET_KEY; they are never printed.

``herald integrations set|list|remove``: a tenant's provider credentials (encrypted).

Output never contains secret values: only the names of the credential fields.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas.integration import SYSTEM_TENANT, IntegrationSummary
from schemas.settings import Settings
from streams.cli._support import (
    CommandError,
    add_actions,
    add_command,
    format_table,
    print_json,
    redis_client,
)
from streams.tenancy.crypto import Cipher, MissingSecretKey
from streams.tenancy.integrations import IntegrationError, IntegrationStore

__all__ = ["register"]


def _tenant_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--tenant", help="tenant id")
    group.add_argument(
        "--system",
        action="store_true",
        help=f"the system-wide defaults (tenant {SYSTEM_TENANT!r})",
    )


def _tenant_command(
    commands: argparse._SubParsersAction[Any],
    name: str,
    run: Callable[..., Any],
    summary: str,
    what: str,
) -> argparse.ArgumentParser:
    """Subcommand ``name`` (running ``run``) on one tenant's integrations: ``summary`` is its
    help, ``what`` its description; ``--tenant`` or ``--system`` picks the tenant."""
    parser = add_command(commands, name, run, help=summary, description=what)
    _tenant_options(parser)
    return parser


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "integrations", doc=__doc__)
    commands = add_actions(parser)

    set_parser = _tenant_command(
        commands, "set", run_set, "store (or replace) an integration", "Store an integration."
    )
    set_parser.add_argument("--provider", required=True, help="provider lookup code")
    set_parser.add_argument(
        "--credentials",
        required=True,
        help="credentials as a JSON object, or @FILE to read it from a file (@- for stdin)",
    )
    set_parser.add_argument(
        "--default", action="store_true", help="make it the tenant's default for its channel"
    )
    set_parser.add_argument("--priority", type=int, default=100, help="lower is tried first")
    set_parser.add_argument("--inactive", action="store_true", help="store it disabled")
    set_parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    list_parser = _tenant_command(
        commands, "list", run_list, "list a tenant's integrations", "List integrations."
    )
    list_parser.add_argument("--json", action="store_true", help="print as JSON")

    remove_parser = _tenant_command(
        commands, "remove", run_remove, "remove an integration", "Remove an integration."
    )
    remove_parser.add_argument("--provider", required=True, help="provider lookup code")
    remove_parser.add_argument(
        "--session",
        help="wppconnect: the sessionName of the integration to remove (needed when the "
        "tenant has several)",
    )


def _tenant(args: argparse.Namespace) -> str:
    return SYSTEM_TENANT if args.system else str(args.tenant)


def read_credentials(value: str) -> dict[str, Any]:
    """Parse ``--credentials``: inline JSON, ``@file`` or ``@-`` (stdin)."""
    if value.startswith("@"):
        source = value[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read credentials file {source}: {exc.strerror}") from exc
    else:
        text = value
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # The message names the position only, never the (secret) content.
        raise CommandError(f"--credentials is not valid JSON: {exc.msg} at {exc.pos}") from None
    if not isinstance(data, dict):
        raise CommandError("--credentials must be a JSON object")
    return data


def _row(s: IntegrationSummary) -> list[Any]:
    return [
        s.provider if s.session_name is None else f"{s.provider}:{s.session_name}",
        str(s.channel),
        "yes" if s.is_default else "",
        s.priority,
        "yes" if s.is_active else "no",
        s.key_id,
        ", ".join(s.credential_fields),
        s.updated_at.isoformat(timespec="seconds"),
    ]


_HEADERS = ["PROVIDER", "CHANNEL", "DEFAULT", "PRIORITY", "ACTIVE", "KEY", "FIELDS", "UPDATED"]


def _summary_json(s: IntegrationSummary) -> dict[str, Any]:
    data: dict[str, Any] = s.model_dump(mode="json", by_alias=True)
    return data


async def run_set(args: argparse.Namespace, settings: Settings) -> int:
    credentials = read_credentials(args.credentials)
    cipher = Cipher.from_settings(settings)
    async with redis_client(settings) as redis:
        summary = await IntegrationStore(redis, cipher).set(
            _tenant(args),
            args.provider,
            credentials,
            is_default=args.default,
            priority=args.priority,
            is_active=not args.inactive,
        )
    if args.json:
        print_json(_summary_json(summary))
    else:
        print(f"stored {summary.provider} for tenant {summary.tenant_id}")
        print(format_table(_HEADERS, [_row(summary)]))
    return 0


async def run_list(args: argparse.Namespace, settings: Settings) -> int:
    async with redis_client(settings) as redis:
        summaries = await IntegrationStore(redis, None).list(_tenant(args))
    if args.json:
        print_json([_summary_json(s) for s in summaries])
    elif summaries:
        print(format_table(_HEADERS, [_row(s) for s in summaries]))
    else:
        print(f"no integrations for tenant {_tenant(args)}")
    return 0


async def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    tenant = _tenant(args)
    try:  # a record stored before session names were kept is read to find its name
        cipher: Cipher | None = Cipher.from_settings(settings)
    except MissingSecretKey:
        cipher = None
    async with redis_client(settings) as redis:
        try:
            removed = await IntegrationStore(redis, cipher).remove(
                tenant, args.provider, args.session
            )
        except IntegrationError as exc:
            raise CommandError(str(exc), "add --session NAME") from exc
    if not removed:
        which = f" {args.session}" if args.session else ""
        raise CommandError(
            f"no {args.provider}{which} integration for tenant {tenant}",
            f"`herald integrations list --tenant {tenant}` shows the stored ones",
        )
    print(f"removed {args.provider} for tenant {tenant}")
    return 0
