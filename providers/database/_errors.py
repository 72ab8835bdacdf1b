"""Database errors -> Herald's error tree, by one table of SQLSTATE classes and SQLite codes.

PostgreSQL (asyncpg) reports a five-character SQLSTATE; Python's ``sqlite3`` an error
name (``SQLITE_BUSY``). Both are looked up in :data:`DB_ERRORS` (longest match first);
anything unlisted is retryable, because a database error Herald cannot classify is more
often a passing state (failover, restart) than a property of the notification. Retries
are bounded by ``HERALD_SEND_MAX_ATTEMPTS`` either way.

``error.code`` on the status event is Herald's (``provider_unavailable`` or
``provider_error``); the SQLSTATE or SQLite name is kept as ``provider_code`` for logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy.exc as sa_exc

from schemas.errors import PermanentError, ProviderError, RetryableError
from schemas.status import ErrorCode

__all__ = ["DB_ERRORS", "SCHEMA_MISSING", "DbErrorRule", "db_error", "is_schema_missing"]

#: Said when the table does not exist: the migrations were not applied.
SCHEMA_MISSING = "the inbox table does not exist: run `herald db upgrade`"


@dataclass(frozen=True, slots=True)
class DbErrorRule:
    """``match`` is a SQLSTATE or SQLSTATE-class prefix, or a SQLite error name."""

    match: str
    retryable: bool
    description: str


DB_ERRORS: tuple[DbErrorRule, ...] = (
    # PostgreSQL SQLSTATE classes (https://www.postgresql.org/docs/current/errcodes-appendix.html)
    DbErrorRule("08", True, "connection exception"),
    DbErrorRule("40", True, "transaction rollback (serialization failure, deadlock)"),
    DbErrorRule(
        "53", True, "insufficient resources (disk full, out of memory, too many connections)"
    ),
    DbErrorRule("57P", True, "operator intervention (shutdown, cannot connect now)"),
    DbErrorRule("55P03", True, "lock not available"),
    DbErrorRule("42P01", False, SCHEMA_MISSING),
    DbErrorRule("42", False, "syntax error or access rule violation"),
    DbErrorRule("3D000", False, "the database does not exist"),
    DbErrorRule("28", False, "the database refused Herald's login"),
    DbErrorRule("22", False, "data exception (a value the column cannot hold)"),
    DbErrorRule("23", False, "integrity constraint violation"),
    # SQLite result codes (https://www.sqlite.org/rescode.html)
    DbErrorRule("SQLITE_BUSY", True, "the database file is locked by another writer"),
    DbErrorRule("SQLITE_LOCKED", True, "a table is locked"),
    DbErrorRule("SQLITE_IOERR", True, "disk I/O error"),
    DbErrorRule("SQLITE_FULL", True, "the disk is full"),
    DbErrorRule("SQLITE_CANTOPEN", True, "the database file cannot be opened"),
    DbErrorRule("SQLITE_READONLY", False, "the database file is read-only"),
    DbErrorRule("SQLITE_TOOBIG", False, "a value is larger than SQLite allows"),
    DbErrorRule("SQLITE_CONSTRAINT", False, "integrity constraint violation"),
)


def _codes(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None) or exc
    for attr in ("sqlstate", "pgcode", "sqlite_errorname"):
        value = getattr(orig, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def is_schema_missing(exc: BaseException) -> bool:
    code = _codes(exc)
    if code == "42P01":
        return True
    return "no such table" in str(getattr(exc, "orig", None) or exc)


def _rule(code: str | None) -> DbErrorRule | None:
    if code is None:
        return None
    matches = [r for r in DB_ERRORS if code.startswith(r.match)]
    return max(matches, key=lambda r: len(r.match), default=None)


def db_error(exc: BaseException, what: str = "inbox database") -> ProviderError:
    """Translate a database (or transport) exception; the caller raises it ``from exc``."""
    if isinstance(exc, ProviderError):
        return exc
    code = _codes(exc)
    if is_schema_missing(exc):
        return PermanentError(ErrorCode.PROVIDER_ERROR, SCHEMA_MISSING, provider_code=code)
    rule = _rule(code)
    if rule is not None:
        message = f"{what}: {rule.description}"
        if rule.retryable:
            return RetryableError(ErrorCode.PROVIDER_UNAVAILABLE, message, provider_code=code)
        return PermanentError(ErrorCode.PROVIDER_ERROR, message, provider_code=code)
    if isinstance(exc, sa_exc.TimeoutError | TimeoutError):
        return RetryableError(
            ErrorCode.PROVIDER_UNAVAILABLE, f"{what}: timed out", provider_code=code
        )
    return RetryableError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"{what} unavailable: {type(exc).__name__}",
        provider_code=code,
    )
