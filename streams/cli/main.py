"""``herald``: the command line entry point (``streams.cli.main:main``).

Each command is a module ``streams/cli/<name>.py`` (or a package) exposing
``register(subparsers)``, which adds its parser and sets ``func(args, settings)`` (sync
returning an exit code, or async, run here with :func:`asyncio.run`). Expected errors
become one or two lines on stderr and a documented exit code (:mod:`streams.cli.errors`);
anything else is a bug and keeps its traceback. ``--debug`` (or ``LOG_LEVEL=debug``)
shows the traceback of expected errors too.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import os
import signal
import sys
import textwrap
import threading
import traceback
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from schemas.settings import Settings
from streams.cli.errors import (
    EXIT_CODE_MEANINGS,
    ExitCode,
    UsageError,
    report,
    translate,
    validation_lines,
)
from streams.platform.logging import configure_logging
from streams.platform.tracing import configure_tracing

__all__ = ["COMMANDS", "EXIT_CODES_HELP", "build_parser", "main"]

COMMANDS = (
    "send",
    "status",
    "tail",
    "doctor",
    "worker",
    "seed",
    "integrations",
    "providers",
    "schemas",
    "asyncapi",
    "keygen",
    "keys",
    "apikeys",
    "db",
    "policy",
    "sandbox",
    "demo",
    "whatsapp",
)

#: Commands that run until stopped and log like a service; the others log warnings only.
SERVICE_COMMANDS = frozenset({"worker", "demo", "sandbox"})

EXIT_CODES_HELP = "exit codes:\n" + "\n".join(
    f"  {code.value:<4} {meaning}" for code, meaning in EXIT_CODE_MEANINGS.items()
)

DEBUG_HELP = "show tracebacks of errors too (same as LOG_LEVEL=debug)"


class _Formatter(argparse.HelpFormatter):
    """Help wrapped at spaces only (``whatsapp-web`` stays whole); in descriptions and
    epilogs, paragraphs are wrapped one by one and indented lines are kept as written."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        for paragraph in textwrap.dedent(text).strip().split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith("  ") for line in lines):
                out.append("\n".join(indent + line for line in lines))
            else:
                wrapped = textwrap.wrap(" ".join(paragraph.split()), width, break_on_hyphens=False)
                out.append("\n".join(indent + line for line in wrapped))
        return "\n\n".join(out)


class _Parser(argparse.ArgumentParser):
    """Every (sub)command's parser: help wrapped by :class:`_Formatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("formatter_class") in (
            None,
            argparse.HelpFormatter,
            argparse.RawDescriptionHelpFormatter,
        ):
            kwargs["formatter_class"] = _Formatter
        super().__init__(*args, **kwargs)


def _add_debug(parser: argparse.ArgumentParser) -> None:
    """``--debug`` on every (sub)command, so it may follow the command name."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _add_debug(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="herald",
        description="Herald: multi-tenant notification stream processor.",
        epilog=EXIT_CODES_HELP
        + "\n\nStart with `herald doctor` when something does not work; docs/cli.md has more.",
        formatter_class=_Formatter,
    )
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != "sandbox" and not (exc.name or "").startswith("sandbox."):
                raise
            _needs_sandbox(subparsers, name)
            continue
        module.register(subparsers)
    for sub in dict.fromkeys(subparsers.choices.values()):
        _add_debug(sub)
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    return parser


def _configure_logging(settings: Settings, command: str, debug: bool) -> None:
    configure_logging(settings)
    if debug:
        logging.getLogger().setLevel(logging.DEBUG)
    elif command not in SERVICE_COMMANDS and settings.log_level != "debug":
        # A one-shot command's output is its answer; progress logs would bury it.
        logging.getLogger().setLevel(logging.WARNING)


#: What to do when the fakes (a separate distribution) are not installed.
SANDBOX_MISSING = "`herald {name}` needs Herald's fakes, which are not installed"
SANDBOX_HINT = "pip install 'herald[sandbox]' (or, from a checkout, pip install ./sandbox)"


def _needs_sandbox(subparsers: argparse._SubParsersAction[Any], name: str) -> None:
    """Register ``name`` as a command that only says how to install the fakes."""
    parser = subparsers.add_parser(name, help=f"(needs herald[sandbox]) {name}", add_help=False)
    parser.add_argument("rest", nargs=argparse.REMAINDER)

    def missing(args: argparse.Namespace, settings: Settings) -> int:
        del args, settings
        return int(report(UsageError(SANDBOX_MISSING.format(name=name), SANDBOX_HINT)))

    parser.set_defaults(func=missing)


async def _until_terminated(func: Any, args: argparse.Namespace, settings: Settings) -> Any:
    """Run an async command; SIGTERM ends it like Ctrl-C (its cleanup runs)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    handled = threading.current_thread() is threading.main_thread()
    if handled:  # signal handlers can only be set from the main thread
        loop.add_signal_handler(signal.SIGTERM, terminate)
    try:
        return await func(args, settings)
    except asyncio.CancelledError:
        if terminated:
            raise KeyboardInterrupt from None
        raise
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGTERM)


def _run(func: Any, args: argparse.Namespace, settings: Settings) -> int:
    if inspect.iscoroutinefunction(func):
        return int(asyncio.run(_until_terminated(func, args, settings)) or 0)
    return int(func(args, settings) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(args.debug) or os.environ.get("LOG_LEVEL", "").lower() == "debug"
    try:
        settings = Settings()
    except ValidationError as exc:
        if debug:
            traceback.print_exc()
        return report(
            UsageError(
                "invalid configuration: " + "; ".join(validation_lines(exc)),
                "fix the environment variable(s) named (or .env); env.example lists them all",
            )
        )
    debug = debug or settings.log_level == "debug"
    _configure_logging(settings, args.command, debug)
    configure_tracing(f"herald-{args.command}")  # OTEL_* variables; a no-op without
    try:
        return _run(args.func, args, settings)
    except KeyboardInterrupt:
        code = int(getattr(args, "interrupt_code", ExitCode.INTERRUPTED))
        if code:
            print("herald: interrupted", file=sys.stderr)
        return code
    except BrokenPipeError:
        # The reader went away (``herald ... | head``): stop quietly, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.FAILED
    except Exception as exc:
        error = translate(exc, redis_url=settings.redis_url, database_url=settings.database_url)
        if error is None:
            traceback.print_exc()
            print(
                f"herald: internal error: {type(exc).__name__}: this is a bug in Herald; "
                "please report it with the traceback above",
                file=sys.stderr,
            )
            return ExitCode.INTERNAL
        if debug:
            traceback.print_exc()
        return report(error)


if __name__ == "__main__":
    sys.exit(main())
