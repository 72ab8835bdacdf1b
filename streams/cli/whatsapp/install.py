"""``herald whatsapp install``: fetch the pinned wa-js (and WhatsApp Web build) into the cache.

Like ``playwright install``: what the WhatsApp Web worker loads into every session comes
from the npm registry (``WHATSAPP_NPM_REGISTRY``), each tarball checked against the
registry's sha512 integrity, into ``WHATSAPP_CACHE_DIR`` (default the user cache), where
the worker finds it by itself (:mod:`streams.whatsapp.assets`). What is in place already
is not fetched again: the command exits 0 when everything is there.
"""

from __future__ import annotations

import argparse
from typing import Any

from schemas.settings import Settings
from streams.cli.errors import CommandError, ServiceUnavailable
from streams.whatsapp.assets import cache_root, install
from streams.whatsapp.npm import IntegrityMismatch, RegistryError

__all__ = ["register"]


def register(subcommands: argparse._SubParsersAction[Any]) -> None:
    parser = subcommands.add_parser(
        "install",
        help="fetch the pinned wa-js and WhatsApp Web build from the npm registry",
        description=(
            "Fetch @wppconnect/wa-js at WHATSAPP_WPPCONNECT_WAJS_VERSION and, when "
            "WHATSAPP_WEB_VERSION is set, that WhatsApp Web build from "
            "@wppconnect/wa-version (WHATSAPP_WEB_VERSION_PACKAGE), from the npm registry "
            "(WHATSAPP_NPM_REGISTRY), verify each tarball's sha512 integrity, and keep "
            "them in the cache the worker reads (WHATSAPP_CACHE_DIR, default "
            "~/.cache/herald). Exits 0 at once when everything is in place."
        ),
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="install into DIR (default: WHATSAPP_CACHE_DIR, else the user cache)",
    )
    parser.add_argument(
        "--force", action="store_true", help="fetch again even what is in place already"
    )
    parser.set_defaults(func=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.cache_dir:
        settings = settings.model_copy(update={"whatsapp_cache_dir": args.cache_dir})
    try:
        done = await install(settings, force=args.force)
    except IntegrityMismatch as exc:
        raise CommandError(
            f"refused a tampered download: {exc}",
            "nothing was installed; check WHATSAPP_NPM_REGISTRY (a mirror or proxy that "
            "alters packages) and try again",
        ) from exc
    except RegistryError as exc:
        raise ServiceUnavailable(
            str(exc), f"check WHATSAPP_NPM_REGISTRY ({settings.whatsapp_npm_registry})"
        ) from exc
    except OSError as exc:
        raise CommandError(
            f"cannot write to {cache_root(settings)}: {exc.strerror or exc}",
            "set WHATSAPP_CACHE_DIR (or --cache-dir) to a writable directory",
        ) from exc
    for item in done:
        verb = "installed" if item.fetched else "in place"
        print(f"{item.what} {item.version}: {verb} at {item.path}")
    return 0
