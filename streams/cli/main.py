"""``herald``: the command line entry point (``streams.cli.main:main``).

Each command is a module ``streams/cli/<name>.py`` exposing ``register(subparsers)``,
which adds its parser and sets ``func(args, settings)`` (sync returning an exit code,
or async, run here with :func:`asyncio.run`). Herald's expected errors become one line
on stderr and a non-zero exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from providers._exceptions import HeraldError
from schemas.settings import Settings
from streams.cli._support import redact_url
from streams.platform.logging import configure_logging
from streams.platform.tracing import configure_tracing

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (
    "seed",
    "integrations",
    "providers",
    "schemas",
    "asyncapi",
    "keygen",
    "apikeys",
    "db",
    "policy",
    "worker",
    "send",
    "sandbox",
    "demo",
)

EXIT_ERROR = 1
EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="herald",
        description="Herald: multi-tenant notification stream processor.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"{__package__}.{name}")
        module.register(subparsers)
    return parser


def _validation_lines(exc: ValidationError) -> list[str]:
    """One line per error, naming the field; never the input value (it may be a secret)."""
    lines = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or exc.title
        lines.append(f"{where}: {err['msg']}")
    return lines


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    print(f"herald: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        return _fail("invalid configuration: " + "; ".join(_validation_lines(exc)), EXIT_CONFIG)
    configure_logging(settings)
    configure_tracing(f"herald-{args.command}")  # OTEL_* variables; a no-op without
    func = args.func
    try:
        if inspect.iscoroutinefunction(func):
            result = asyncio.run(func(args, settings))
        else:
            result = func(args, settings)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``herald ... | head``): stop quietly, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except (RedisConnectionError, RedisTimeoutError) as exc:
        return _fail(f"cannot reach Redis at {redact_url(settings.redis_url)}: {exc}")
    except ValidationError as exc:
        return _fail("; ".join(_validation_lines(exc)))
    except HeraldError as exc:
        return _fail(str(exc))
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
