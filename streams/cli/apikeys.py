"""``herald apikeys create|list|revoke``: per-tenant API keys for Herald's HTTP endpoints."""

from __future__ import annotations

import argparse
from typing import Any

from schemas.settings import Settings
from streams.cli._support import CommandError, format_table, print_json, redis_client
from streams.tenancy.auth import TenantKeys

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "apikeys",
        help="manage per-tenant API keys (session and inbox endpoints)",
        description="API keys let a caller act for one tenant on Herald's HTTP endpoints. "
        "A key is printed once, when created; only its hash is stored.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key and print it (once)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", default="default", help="a label, e.g. the calling service")
    create.set_defaults(func=_create)
    listing = actions.add_parser("list", help="list a tenant's keys (ids and names only)")
    listing.add_argument("--tenant", required=True)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)
    revoke = actions.add_parser("revoke", help="revoke a key by its id (see list)")
    revoke.add_argument("--tenant", required=True)
    revoke.add_argument("--key-id", required=True)
    revoke.set_defaults(func=_revoke)


async def _create(args: argparse.Namespace, settings: Settings) -> int:
    async with redis_client(settings) as redis:
        key, info = await TenantKeys(redis).create(args.tenant, args.name)
    print(key)
    print(
        f"key id {info.key_id} for tenant {info.tenant_id}: store the key now, it is not shown again"
    )
    return 0


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    async with redis_client(settings) as redis:
        keys = await TenantKeys(redis).list(args.tenant)
    rows = [[k.key_id, k.name, k.created_at.isoformat()] for k in keys]
    if args.json:
        print_json([dict(zip(("keyId", "name", "createdAt"), r, strict=True)) for r in rows])
    else:
        print(format_table(["KEY ID", "NAME", "CREATED"], rows))
    return 0


async def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    async with redis_client(settings) as redis:
        if not await TenantKeys(redis).revoke(args.tenant, args.key_id):
            raise CommandError(f"no key {args.key_id!r} for tenant {args.tenant!r}")
    print(f"revoked {args.key_id}")
    return 0
