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

from collections.abc import Mapping

import sqlalchemy.exc as sa_exc

from providers.errors import ErrorSpec
from schemas.errors import PermanentError, ProviderError, RetryableError
from schemas.status import ErrorCode

__all__ = ["DB_ERRORS", "SCHEMA_MISSING", "db_error", "is_schema_missing"]

#: Said when the table does not exist: the migrations were not applied.
SCHEMA_MISSING = "the inbox table does not exist: run `herald db upgrade`"

_UNAVAILABLE = ErrorCode.PROVIDER_UNAVAILABLE
_ERROR = ErrorCode.PROVIDER_ERROR


#: SQLSTATE class prefixes and SQLite names -> retryable (``retry``) or not (``final``).
DB_ERRORS: Mapping[str, ErrorSpec] = {
    # PostgreSQL SQLSTATE classes (https://www.postgresql.org/docs/current/errcodes-appendix.html)
    "08": ErrorSpec.retry(_UNAVAILABLE, "connection exception"),
    "40": ErrorSpec.retry(_UNAVAILABLE, "transaction rollback (serialization failure, deadlock)"),
    "53": ErrorSpec.retry(
        _UNAVAILABLE, "insufficient resources (disk full, out of memory, too many connections)"
    ),
    "57P": ErrorSpec.retry(_UNAVAILABLE, "operator intervention (shutdown, cannot connect now)"),
    "55P03": ErrorSpec.retry(_UNAVAILABLE, "lock not available"),
    "42P01": ErrorSpec.final(_ERROR, SCHEMA_MISSING),
    "42": ErrorSpec.final(_ERROR, "syntax error or access rule violation"),
    "3D000": ErrorSpec.final(_ERROR, "the database does not exist"),
    "28": ErrorSpec.final(_ERROR, "the database refused Herald's login"),
    "22": ErrorSpec.final(_ERROR, "data exception (a value the column cannot hold)"),
    "23": ErrorSpec.final(_ERROR, "integrity constraint violation"),
    # SQLite result codes (https://www.sqlite.org/rescode.html)
    "SQLITE_BUSY": ErrorSpec.retry(_UNAVAILABLE, "the database file is locked by another writer"),
    "SQLITE_LOCKED": ErrorSpec.retry(_UNAVAILABLE, "a table is locked"),
    "SQLITE_IOERR": ErrorSpec.retry(_UNAVAILABLE, "disk I/O error"),
    "SQLITE_FULL": ErrorSpec.retry(_UNAVAILABLE, "the disk is full"),
    "SQLITE_CANTOPEN": ErrorSpec.retry(_UNAVAILABLE, "the database file cannot be opened"),
    "SQLITE_READONLY": ErrorSpec.final(_ERROR, "the database file is read-only"),
    "SQLITE_TOOBIG": ErrorSpec.final(_ERROR, "a value is larger than SQLite allows"),
    "SQLITE_CONSTRAINT": ErrorSpec.final(_ERROR, "integrity constraint violation"),
}


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


def _spec(code: str | None) -> ErrorSpec | None:
    """The entry of the longest prefix of ``code`` in :data:`DB_ERRORS`."""
    if code is None:
        return None
    matches = [match for match in DB_ERRORS if code.startswith(match)]
    return DB_ERRORS[max(matches, key=len)] if matches else None


def db_error(exc: BaseException, what: str = "inbox database") -> ProviderError:
    """Translate a database (or transport) exception; the caller raises it ``from exc``."""
    if isinstance(exc, ProviderError):
        return exc
    code = _codes(exc)
    if is_schema_missing(exc):
        return PermanentError(ErrorCode.PROVIDER_ERROR, SCHEMA_MISSING, provider_code=code)
    spec = _spec(code)
    if spec is not None:
        error = RetryableError if spec.retryable else PermanentError
        return error(spec.category, f"{what}: {spec.description}", provider_code=code)
    if isinstance(exc, sa_exc.TimeoutError | TimeoutError):
        return RetryableError(
            ErrorCode.PROVIDER_UNAVAILABLE, f"{what}: timed out", provider_code=code
        )
    return RetryableError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"{what} unavailable: {type(exc).__name__}",
        provider_code=code,
    )
