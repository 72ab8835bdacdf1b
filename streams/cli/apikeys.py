"""manage per-tenant API keys (session and inbox endpoints)

API keys let a caller act for one tenant on Herald's HTTP endpoints. A key is printed once,
when created; only its hash is stored.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta
from typing import Any

from schemas.settings import Settings
from schemas.status import utcnow
from streams.cli._support import (
    CommandError,
    add_actions,
    add_command,
    format_table,
    print_json,
    redis_client,
)
from streams.tenancy.auth import ALL_SCOPES, Scope, TenantKeys

__all__ = ["parse_duration", "register"]

_DURATION = re.compile(r"([1-9][0-9]{0,6})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h`` or ``30d``."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise CommandError(f"invalid duration {text!r}: use e.g. 90s, 15m, 12h or 30d")
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "apikeys", doc=__doc__)
    actions = add_actions(parser)
    create = add_command(actions, "create", _create, help="create a key and print it (once)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", default="default", help="a label, e.g. the calling service")
    create.add_argument(
        "--scope",
        action="append",
        choices=[s.value for s in Scope],
        help="what the key may do: 'session' (QR, session, disconnect), 'inbox' (the inbox); "
        "repeat for several; default: every scope",
    )
    create.add_argument(
        "--expires-in", metavar="DURATION", help="the key stops working after e.g. 30d, 12h"
    )
    listing = add_command(actions, "list", _list, help="list a tenant's keys (ids and names only)")
    listing.add_argument("--tenant", required=True)
    listing.add_argument("--json", action="store_true")
    revoke = add_command(actions, "revoke", _revoke, help="revoke a key by its exact id (see list)")
    revoke.add_argument("--tenant", required=True)
    revoke.add_argument("--key-id", required=True, help="the 12-character id `list` shows")


async def _create(args: argparse.Namespace, settings: Settings) -> int:
    expires_at = utcnow() + parse_duration(args.expires_in) if args.expires_in else None
    scopes = [Scope(s) for s in args.scope] if args.scope else None
    async with redis_client(settings) as redis:
        key, info = await TenantKeys(redis).create(
            args.tenant, args.name, scopes=scopes, expires_at=expires_at
        )
    print(key)
    until = f", expires {info.expires_at.isoformat()}" if info.expires_at else ""
    print(
        f"key id {info.key_id} for tenant {info.tenant_id} (scopes {_scope_text(info.scopes)}"
        f"{until}): store the key now, it is not shown again"
    )
    return 0


def _scope_text(scopes: frozenset[Scope]) -> str:
    return "*" if scopes == ALL_SCOPES else ",".join(sorted(s.value for s in scopes))


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else "never"


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    async with redis_client(settings) as redis:
        keys = await TenantKeys(redis).list(args.tenant)
    now = utcnow()
    if args.json:
        print_json(
            [
                {
                    "keyId": k.key_id,
                    "name": k.name,
                    "createdAt": k.created_at.isoformat(),
                    "scopes": sorted(s.value for s in k.scopes),
                    "expiresAt": k.expires_at.isoformat() if k.expires_at else None,
                    "expired": k.expired(now),
                }
                for k in keys
            ]
        )
        return 0
    rows = [
        [
            k.key_id,
            k.name,
            k.created_at.isoformat(),
            _scope_text(k.scopes),
            _when(k.expires_at) + (" (expired)" if k.expired(now) else ""),
        ]
        for k in keys
    ]
    print(format_table(["KEY ID", "NAME", "CREATED", "SCOPES", "EXPIRES"], rows))
    return 0


async def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    async with redis_client(settings) as redis:
        if not await TenantKeys(redis).revoke(args.tenant, args.key_id):
            raise CommandError(f"no key {args.key_id!r} for tenant {args.tenant!r}")
    print(f"revoked {args.key_id}")
    return 0
