"""``herald worker [ROLE]``: run a worker (the router by default)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from schemas import Settings
from streams.cli._support import add_command
from streams.cli.errors import UsageError
from streams.cli.kafka import add_broker_wait, wait_for_kafka
from streams.inbox import migrate_on_start
from streams.platform.admin import ensure_topics
from streams.platform.app import ROLES, create_app

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "worker",
        run,
        help="run a worker of one role: " + ", ".join(ROLES) + " (default router)",
        description=(
            "Run a Herald worker. Creates Herald's topics if missing, joins the role's "
            "consumer group and serves /health and the webhooks on HERALD_WEB_PORT."
        ),
    )
    parser.add_argument(
        "role",
        nargs="?",
        default="router",
        choices=ROLES,
        help="router: requests to providers, webhooks; whatsapp: WhatsApp Web sessions "
        "(needs WHATSAPP_WPPCONNECT_ENABLED=true). Default: router",
    )
    add_broker_wait(parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import faust

    if args.role == "whatsapp" and not settings.wppconnect_enabled:
        raise UsageError(
            "the whatsapp worker needs WhatsApp Web enabled",
            "set WHATSAPP_WPPCONNECT_ENABLED=true (and see `herald doctor` for Chromium, wa-js)",
        )
    if args.role == "whatsapp" and settings.secret_key is None:
        raise UsageError(
            "the whatsapp worker needs HERALD_SECRET_KEY: session logins are encrypted at "
            "rest with it, whichever WHATSAPP_WPPCONNECT_TOKEN_STORE",
            "run `herald keygen` and set HERALD_SECRET_KEY (the same on every worker)",
        )
    if args.role == "whatsapp":
        _check_assets(settings)  # wa-js and the pinned build, before any wait

    async def prepare() -> None:
        await wait_for_kafka(settings, args.broker_wait)
        # Primary storage: noeviction, persistence (waits for Redis as long as for Kafka).
        await _check_redis(settings, max(args.broker_wait, 1.0))
        await ensure_topics(settings, timeout=max(args.broker_wait, 10.0))

    asyncio.run(prepare())
    asyncio.run(migrate_on_start(settings))  # if HERALD_DB_AUTO_MIGRATE (default: SQLite only)
    previous = asyncio.get_event_loop_policy()
    use_event_loop(settings.event_loop)  # the Faust worker's loops; not the checks' above
    try:
        herald = create_app(settings, args.role)

        @herald.app.on_before_shutdown.connect
        async def _stop_runtime(app: Any, **kwargs: Any) -> None:
            await herald.runtime.stop()

        level = {"warn": "warning"}.get(settings.log_level, settings.log_level)
        worker = faust.Worker(
            herald.app,
            loglevel=level.upper(),
            logging_config=_logging_config(settings),
            override_logging=True,
        )
        # Faust's terminal spinner sets the root logger to DEBUG so that it can spin on every
        # record: every library's debug logging (httpcore traces each request) then builds
        # records for nothing. A worker is a service, not a terminal program: no spinner.
        worker.spinner = None
        worker.execute_from_commandline()  # runs until stopped; exits the process itself
    finally:  # a worker run in-process (tests, tools) leaves the process's loop as it was
        asyncio.set_event_loop_policy(previous)
    return 0


def use_event_loop(name: str) -> bool:
    """Make ``name``'s loop the one every new event loop of this process is (Faust's
    consumer thread included); ``True`` when uvloop is in use.

    uvloop runs the hot path's task switches, timers and socket writes in libuv instead
    of Python (docs/performance.md). Without the package (Windows), asyncio's own loop.
    """
    if name != "uvloop":
        asyncio.set_event_loop_policy(None)
        return False
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        log.warning("uvloop is not installed; the worker runs asyncio's own event loop")
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


async def _check_redis(settings: Settings, wait: float) -> None:
    from streams.cli._support import redis_client
    from streams.cli.errors import ServiceUnavailable, redact_url
    from streams.platform.infra import durable
    from streams.platform.redis_storage import check_redis_storage

    async with redis_client(settings) as redis:
        try:
            async with asyncio.timeout(wait):  # retried while Redis does not answer
                await durable(lambda: check_redis_storage(redis, settings), "redis storage check")
        except TimeoutError:
            raise ServiceUnavailable(
                f"Redis at {redact_url(settings.redis_url)} did not answer within {wait:g}s",
                "start Redis or point REDIS_URL at it (`herald doctor` checks the deployment)",
            ) from None
        await check_secret_key(settings, redis)


async def check_secret_key(settings: Settings, redis: Any) -> None:
    """Refuse to start without ``HERALD_SECRET_KEY`` when credentials are stored.

    Such a worker could read no integration: every request of those tenants would fail
    (``credentials_unreadable``). Without stored credentials (a fresh deployment, a
    worker of tenants on system integrations only) a missing key is only a warning later.
    """
    from streams.cli.errors import UsageError
    from streams.tenancy.integrations import tenants_with_integrations

    if settings.secret_key is not None:
        return
    tenants = await tenants_with_integrations(redis, limit=3)
    if tenants:
        raise UsageError(
            "HERALD_SECRET_KEY is not set, but stored credentials need it "
            f"(tenants {', '.join(tenants)}{', ...' if len(tenants) == 3 else ''})",
            "set HERALD_SECRET_KEY to the key the credentials were stored with "
            "(`herald doctor` names the integrations it cannot read)",
        )


def _logging_config(settings: Settings) -> dict[str, Any]:
    from streams.platform.logging import logging_dict_config

    return logging_dict_config(settings)


def _check_assets(settings: Settings) -> None:
    """Refuse to start without wa-js (or the pinned build): every session would fail."""
    from streams.whatsapp.assets import AssetMissing, find_wajs, find_web_build

    try:
        find_wajs(settings)
        find_web_build(settings)
    except AssetMissing as exc:
        raise UsageError(
            str(exc), "run `herald whatsapp install` with the worker's settings"
        ) from exc
