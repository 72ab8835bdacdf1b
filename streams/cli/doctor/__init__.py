"""check that this deployment is wired correctly (start here when stuck)

Checks, in order: the Kafka broker and Herald's topics; Redis, and whether its eviction
policy and persistence suit primary storage; the secret key against every stored
integration; the seed data against the provider registry; the inbox database's migrations;
and, when WhatsApp Web is enabled, Chromium and the wa-js bundle. A failed check makes the
exit code 1; a warning does not.
"""

from __future__ import annotations

import argparse
from typing import Any

from schemas.settings import Settings
from streams.cli._support import add_command, redis_client
from streams.cli.doctor._data import check_inbox, check_secret_key, check_seed
from streams.cli.doctor._infra import check_kafka, check_redis, check_redis_storage
from streams.cli.doctor._model import Check, Outcome, print_checks
from streams.cli.doctor._whatsapp import check_chromium, check_wajs
from streams.cli.errors import ExitCode
from streams.cli.kafka import add_broker_wait

__all__ = ["Check", "Outcome", "print_checks", "register", "run_checks"]

#: Doctor asks, it does not wait for a deployment to come up.
DOCTOR_BROKER_WAIT = 5.0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "doctor", run, doc=__doc__)
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    add_broker_wait(parser, DOCTOR_BROKER_WAIT)


async def run_checks(settings: Settings, broker_wait: float) -> list[Check]:
    checks = [await check_kafka(settings, broker_wait)]
    async with redis_client(settings) as client:
        answered, ok = await check_redis(settings, client)
        checks.append(answered)
        redis = client if ok else None
        if redis is not None:
            checks.append(await check_redis_storage(redis))
        else:
            checks.append(Check("redis storage", Outcome.SKIP, "not checked (no Redis)"))
        checks.append(await check_secret_key(settings, redis))
        checks.append(await check_seed(redis))
    checks.append(await check_inbox(settings))
    if settings.wppconnect_enabled:
        checks.append(check_wajs(settings))
        checks.append(await check_chromium(settings))
    else:
        off = "WhatsApp Web disabled (WHATSAPP_WPPCONNECT_ENABLED=false)"
        checks.append(Check("wa-js", Outcome.SKIP, off))
        checks.append(Check("chromium", Outcome.SKIP, off))
    return checks


async def run(args: argparse.Namespace, settings: Settings) -> int:
    checks = await run_checks(settings, args.broker_wait)
    failed = any(c.outcome is Outcome.FAIL for c in checks)
    print_checks(checks, as_json=args.json)
    return ExitCode.FAILED if failed else ExitCode.OK
