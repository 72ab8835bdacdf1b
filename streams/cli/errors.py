"""What the ``herald`` command line does with errors: exit codes, translation, rendering.

Every command raises :class:`CommandError` (or a subclass) for an expected failure, with
a message naming what failed and where, and a hint saying what to do. Errors from other
libraries (Redis, Kafka, pydantic, SQLAlchemy, the file system, Herald's own
``HeraldError`` tree) are translated by :func:`translate` in one place, so each command
only raises what is specific to it. :func:`report` renders an error as at most two
lines on stderr; anything :func:`translate` does not know is a bug and keeps its
traceback (exit code :attr:`ExitCode.INTERNAL`).
"""

from __future__ import annotations

import errno
import sys
from enum import IntEnum
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from providers._exceptions import HeraldError

__all__ = [
    "EXIT_CODE_MEANINGS",
    "CommandError",
    "ExitCode",
    "InputError",
    "ServiceUnavailable",
    "TimedOut",
    "UsageError",
    "redact_url",
    "report",
    "translate",
    "validation_lines",
]


class ExitCode(IntEnum):
    """The exit codes of every ``herald`` command (documented in docs/cli.md)."""

    OK = 0
    #: The command ran and the answer is "no": a notification failed or was rejected, a
    #: doctor check failed, the thing asked for does not exist, the input was refused.
    FAILED = 1
    #: Bad flags, or bad configuration (environment variables, ``.env``, the secret key).
    USAGE = 2
    #: A service Herald needs did not answer: Kafka, Redis, the inbox database, Chromium.
    UNAVAILABLE = 3
    #: Gave up waiting (``herald send --wait --timeout``).
    TIMEOUT = 4
    #: A bug in Herald: the traceback is printed; please report it.
    INTERNAL = 70
    #: Interrupted by Ctrl-C (SIGINT) before the command finished.
    INTERRUPTED = 130


#: One line per exit code, for ``--help`` and docs/cli.md.
EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.FAILED: "failed: the notification failed or was rejected, a check failed, "
    "not found, or bad input",
    ExitCode.USAGE: "bad flags or configuration (environment, .env, the secret key)",
    ExitCode.UNAVAILABLE: "Kafka, Redis, the inbox database or Chromium did not answer",
    ExitCode.TIMEOUT: "gave up waiting (send --wait --timeout)",
    ExitCode.INTERNAL: "a bug in Herald: the traceback is printed; please report it",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C) before the command finished",
}


class CommandError(HeraldError):
    """An expected failure: ``message`` says what failed (and where), ``hint`` what to do."""

    code: ExitCode = ExitCode.FAILED

    def __init__(
        self, message: str, hint: str | None = None, *, code: ExitCode | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code


class InputError(CommandError):
    """The command's input is unusable (bad JSON, a missing file, an unknown name)."""

    code = ExitCode.FAILED


class UsageError(CommandError):
    """Bad flags or bad configuration."""

    code = ExitCode.USAGE


class ServiceUnavailable(CommandError):
    """Kafka, Redis, the inbox database or the browser did not answer."""

    code = ExitCode.UNAVAILABLE


class TimedOut(CommandError):
    """The command gave up waiting."""

    code = ExitCode.TIMEOUT


def redact_url(url: str) -> str:
    """``url`` without its password (for error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    hosts = parts.netloc.rpartition("@")[2]  # one host:port, or a Redis Cluster's list
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + hosts))


def validation_lines(exc: ValidationError) -> list[str]:
    """One line per error, naming the field; never the input value (it may be a secret)."""
    lines = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or exc.title
        lines.append(f"{where}: {err['msg']}")
    return lines


#: ``bind`` failures: a server command cannot listen where it was told to.
_CANNOT_LISTEN = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]


def _redis(exc: BaseException, redis_url: str) -> CommandError:
    return ServiceUnavailable(
        f"cannot reach Redis at {redact_url(redis_url)}: {_first_line(exc)}",
        "start redis-server, or point REDIS_URL at a running Redis",
    )


def translate(exc: BaseException, *, redis_url: str, database_url: str) -> CommandError | None:
    """The :class:`CommandError` for an expected foreign error; ``None`` for a bug.

    ``redis_url`` and ``database_url`` name the services in the messages (passwords
    redacted).
    """
    # Imported here: the CLI's error path must not pay for these imports up front.
    from aiokafka.errors import KafkaConnectionError, KafkaError
    from redis.exceptions import AuthenticationError as RedisAuthenticationError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

    from streams.platform.admin import BrokerUnavailable, TopicCreationError
    from streams.platform.embedded import EmbeddedServiceError
    from streams.tenancy.crypto import InvalidSecretKey, MissingSecretKey
    from streams.tenancy.lookups import LookupsNotLoaded

    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, RedisAuthenticationError):
        return UsageError(
            f"Redis at {redact_url(redis_url)} refused the credentials: {_first_line(exc)}",
            "check the user and password in REDIS_URL",
        )
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return _redis(exc, redis_url)
    if isinstance(exc, BrokerUnavailable):
        return ServiceUnavailable(
            str(exc),
            "start the broker, check KAFKA_BOOTSTRAP_SERVERS, or wait longer with --broker-wait",
        )
    if isinstance(exc, TopicCreationError):
        return ServiceUnavailable(str(exc), "check the broker's log and its topic settings")
    if isinstance(exc, KafkaConnectionError):
        return ServiceUnavailable(
            f"lost the connection to Kafka: {_first_line(exc)}", "check the broker"
        )
    if isinstance(exc, KafkaError):
        return CommandError(f"Kafka refused the request: {_first_line(exc)}")
    if isinstance(exc, SQLAlchemyError):
        message = f"inbox database {redact_url(database_url)}: {type(exc).__name__}: "
        if isinstance(exc, OperationalError | InterfaceError):
            return ServiceUnavailable(
                message + _first_line(exc), "check DATABASE_URL and that the database is running"
            )
        return CommandError(message + _first_line(exc))
    if isinstance(exc, MissingSecretKey | InvalidSecretKey):
        return UsageError(str(exc))
    if isinstance(exc, LookupsNotLoaded):
        return CommandError(str(exc))
    if isinstance(exc, ValidationError):
        return InputError("; ".join(validation_lines(exc)))
    if isinstance(exc, HeraldError):
        return CommandError(str(exc))
    if isinstance(exc, EmbeddedServiceError):
        return ServiceUnavailable(
            str(exc), "install the embedded extras: pip install -e '.[embedded]'"
        )
    if isinstance(exc, OSError) and exc.filename is not None:
        return InputError(f"cannot open {exc.filename}: {exc.strerror or _first_line(exc)}")
    if isinstance(exc, OSError) and exc.errno in _CANNOT_LISTEN:
        return CommandError(
            _first_line(exc), "choose another --host/--port, or stop what is listening there"
        )
    if isinstance(exc, ConnectionError):
        return ServiceUnavailable(
            f"connection failed: {_first_line(exc)}", "check that the service named is running"
        )
    return None


def report(error: CommandError, stream: TextIO | None = None) -> ExitCode:
    """Print ``error`` as one line (two with a hint) and return its exit code."""
    out = stream if stream is not None else sys.stderr
    print(f"herald: error: {error.message}", file=out)
    if error.hint:
        print(f"  hint: {error.hint}", file=out)
    return error.code
