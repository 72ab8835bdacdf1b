"""secret-key maintenance (re-encrypt under the current key)

Maintenance of HERALD_SECRET_KEY and HERALD_PREVIOUS_SECRET_KEYS.

``herald keys rotate``: re-encrypt every stored secret under the current HERALD_SECRET_KEY.

Rotation, step by step (docs/security.md):

1. ``herald keygen`` -> the new key; set it as ``HERALD_SECRET_KEY`` and move the old
   one to ``HERALD_PREVIOUS_SECRET_KEYS`` on every worker (they keep reading old records);
2. ``herald keys rotate`` (same environment): every integration's credentials and every
   WhatsApp session archive (in Redis, and the ``file`` store's sealed archives in this
   machine's WHATSAPP_WPPCONNECT_TOKEN_FOLDER: run it on each worker machine that has one)
   is decrypted with whichever known key made it and written back under the new one;
   anything no known key opens is listed and the exit code is 1;
3. when it reports nothing left under an old key, remove that key from
   ``HERALD_PREVIOUS_SECRET_KEYS``.

A record changed by a worker while the command ran is left as the worker wrote it and
reported as ``changed``: run the command again.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from schemas.settings import Settings
from streams.cli._support import add_actions, add_command, print_json, redis_client
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import Reencrypted, reencrypt_integrations
from streams.whatsapp.sealed import reencrypt_sealed
from streams.whatsapp.tokens import reencrypt_archives

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "keys", doc=__doc__)
    actions = add_actions(parser)
    rotate = add_command(
        actions,
        "rotate",
        _rotate,
        help="re-encrypt every credential and WhatsApp archive under HERALD_SECRET_KEY",
        description="Decrypt every stored credential and WhatsApp session archive with "
        "whichever known key made it and store it again under HERALD_SECRET_KEY. Exit code "
        "1 if anything could not be read (it is left in place) or changed meanwhile.",
    )
    rotate.add_argument("--dry-run", action="store_true", help="report only; change nothing")
    rotate.add_argument("--json", action="store_true", help="print the report as JSON")


def _section(name: str, report: Reencrypted) -> dict[str, Any]:
    return {
        "kind": name,
        "rotated": report.rotated,
        "current": len(report.current),
        "changed": report.changed,
        "failed": report.failed,
    }


async def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    cipher = Cipher.from_settings(settings)
    async with redis_client(settings) as redis:
        integrations = await reencrypt_integrations(redis, cipher, dry_run=args.dry_run)
        archives = await reencrypt_archives(redis, cipher, dry_run=args.dry_run)
    sealed = await asyncio.to_thread(
        reencrypt_sealed, settings.wppconnect_token_folder, cipher, dry_run=args.dry_run
    )
    sections = [
        _section("integration", integrations),
        _section("whatsapp-archive", archives),
        _section("whatsapp-sealed-archive", sealed),
    ]
    if args.json:
        print_json({"keyId": cipher.key_id, "dryRun": args.dry_run, "results": sections})
    else:
        verb = "would re-encrypt" if args.dry_run else "re-encrypted"
        print(f"current key {cipher.key_id}")
        for section in sections:
            kind = section["kind"]
            print(
                f"{kind}s: {verb} {len(section['rotated'])}, already current "
                f"{section['current']}, changed meanwhile {len(section['changed'])}, "
                f"unreadable {len(section['failed'])}"
            )
            for item in section["changed"]:
                print(f"  changed  {kind} {item}: run `herald keys rotate` again")
            for item, why in section["failed"].items():
                print(f"  FAILED   {kind} {item}: {why}")
    trouble = any(s["failed"] or s["changed"] for s in sections)
    return 1 if trouble else 0
