"""The database (inbox) provider without a database: declaration, validation, the feed
cursor and the database error table. Storing is tested against real databases in
tests/integration/test_inbox_store.py and end to end in test_inbox_e2e.py."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
import sqlalchemy.exc as sa_exc
from hypothesis import given
from hypothesis import strategies as st

from providers import InvalidRequest, PermanentError, RetryableError
from providers.base import Resources
from providers.database import (
    DB_ERRORS,
    SCHEMA_MISSING,
    Cursor,
    DatabaseProvider,
    InboxStore,
    InvalidCursor,
    db_error,
)
from providers.database._credentials import DatabaseCredentials
from providers.registry import REGISTRY
from schemas.credentials import CREDENTIALS_ADAPTER
from schemas.notification import NotificationRequest
from tests.helpers import make_settings


def make_request(
    recipient: dict[str, Any] | None = None, content: dict[str, Any] | None = None
) -> NotificationRequest:
    return NotificationRequest.model_validate(
        {
            "id": "n-1",
            "tenantId": "acme",
            "channel": "database",
            "recipient": recipient if recipient is not None else {"userId": "user-42"},
            "content": content if content is not None else {"body": "Your order has shipped"},
        }
    )


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[DatabaseProvider]:
    async with httpx.AsyncClient() as http:
        yield DatabaseProvider(DatabaseCredentials(), http=http, settings=make_settings())


# -- declaration ---------------------------------------------------------------------------


def test_is_registered_needs_no_integration_and_requires_the_store() -> None:
    assert REGISTRY["database"] is DatabaseProvider
    assert DatabaseProvider.needs_integration is False
    assert DatabaseProvider.requires == (InboxStore,)
    assert DatabaseProvider.required_credentials() == []
    assert (
        CREDENTIALS_ADAPTER.validate_python({"providerType": "database"}) == DatabaseCredentials()
    )


def test_resources_hand_out_what_they_hold_by_class() -> None:
    marker = object()
    resources = Resources(marker)
    assert resources.get(object) is marker
    assert object in resources
    with pytest.raises(LookupError, match="InboxStore"):
        resources.get(InboxStore)


# -- validate ------------------------------------------------------------------------------


def test_validate_accepts_text_and_html(provider: DatabaseProvider) -> None:
    provider.validate(make_request())
    provider.validate(make_request(content={"subject": "Hello"}))
    provider.validate(make_request(content={"html": "<b>Hi</b>"}))
    assert provider.format_payload(make_request(content={"subject": "S", "body": "B"})) == {
        "user_id": "user-42",
        "subject": "S",
        "body": "B",
        "html": None,
        "metadata": {},
    }


@pytest.mark.parametrize(
    "recipient", [{"phone": "+5511999990000"}, {"userId": "   "}, {"email": "a@example.com"}]
)
def test_validate_needs_a_user_id(provider: DatabaseProvider, recipient: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        provider.validate(make_request(recipient=recipient))
    assert caught.value.code == "invalid_recipient"


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ({}, "body, subject or html"),
        ({"body": ""}, "body, subject or html"),
        ({"body": "x", "media": {"url": "https://example.com/a.png"}}, "media"),
        ({"location": {"latitude": 1, "longitude": 2}}, "location"),
        ({"body": "x", "contact": {"contactId": "+1"}}, "contact"),
    ],
)
def test_validate_refuses_what_the_inbox_cannot_show(
    provider: DatabaseProvider, content: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        provider.validate(make_request(content=content))
    assert caught.value.code == "unsupported_content"
    assert named in caught.value.message


# -- the cursor ----------------------------------------------------------------------------


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3))]),
    ),
    st.integers(min_value=1, max_value=2**63 - 1),
)
def test_cursor_round_trips(created_at: datetime, row_id: int) -> None:
    token = Cursor(created_at, row_id).encode()
    assert token.isascii()
    assert "=" not in token  # URL-safe without padding
    decoded = Cursor.decode(token)
    assert decoded == Cursor(created_at.astimezone(UTC), row_id)
    assert decoded.created_at.tzinfo is UTC


def _token(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64!",
        "x" * 300,
        base64.urlsafe_b64encode(b"not json").decode(),
        _token({"createdAt": "2026-01-01T00:00:00+00:00", "id": 1}),
        _token(["v2", "2026-01-01T00:00:00+00:00", 1]),
        _token(["v1", "2026-01-01T00:00:00", 1]),  # naive
        _token(["v1", "yesterday", 1]),
        _token(["v1", "2026-01-01T00:00:00+00:00", "1"]),
        _token(["v1", "2026-01-01T00:00:00+00:00", True]),
        _token(["v1", "2026-01-01T00:00:00+00:00"]),
    ],
)
def test_cursor_refuses_what_it_did_not_issue(token: str) -> None:
    with pytest.raises(InvalidCursor):
        Cursor.decode(token)


# -- database errors -----------------------------------------------------------------------


class _PgError(Exception):
    """Stands in for the asyncpg adapter's error: SQLAlchemy exposes ``sqlstate``."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _wrapped(orig: Exception) -> sa_exc.DBAPIError:
    return sa_exc.OperationalError("INSERT ...", {}, orig)


def _sqlite(message: str, name: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = name
    return error


@pytest.mark.parametrize(
    ("orig", "retryable"),
    [
        (_PgError("08006"), True),  # connection failure
        (_PgError("40001"), True),  # serialization failure
        (_PgError("40P01"), True),  # deadlock
        (_PgError("53300"), True),  # too many connections
        (_PgError("57P01"), True),  # admin shutdown
        (_PgError("55P03"), True),  # lock not available
        (_PgError("22021"), False),  # invalid byte sequence
        (_PgError("23502"), False),  # not null violation
        (_PgError("28P01"), False),  # password authentication failed
        (_PgError("3D000"), False),  # database does not exist
        (_PgError("42501"), False),  # insufficient privilege
        (_PgError("XX000"), True),  # internal error: unlisted, retried
        (_sqlite("database is locked", "SQLITE_BUSY"), True),
        (_sqlite("disk I/O error", "SQLITE_IOERR_WRITE"), True),
        (_sqlite("attempt to write a readonly database", "SQLITE_READONLY"), False),
        (_sqlite("unable to open database file", "SQLITE_CANTOPEN"), True),
    ],
)
def test_database_errors_map_to_the_error_tree(orig: Exception, retryable: bool) -> None:
    error = db_error(_wrapped(orig))
    assert error.retryable is retryable
    assert isinstance(error, RetryableError if retryable else PermanentError)
    assert error.code == ("provider_unavailable" if retryable else "provider_error")
    assert error.provider_code == (
        getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    )


@pytest.mark.parametrize(
    "orig",
    [_PgError("42P01"), _sqlite("no such table: user_notifications", "SQLITE_ERROR")],
)
def test_a_missing_table_says_to_run_the_migrations(orig: Exception) -> None:
    error = db_error(_wrapped(orig))
    assert isinstance(error, PermanentError)
    assert error.message == SCHEMA_MISSING


def test_transport_errors_and_timeouts_are_retryable() -> None:
    for exc in (ConnectionRefusedError(111, "refused"), TimeoutError(), sa_exc.TimeoutError()):
        error = db_error(exc)
        assert isinstance(error, RetryableError)
        assert error.code == "provider_unavailable"


def test_the_error_table_has_one_rule_per_code() -> None:
    matches = list(DB_ERRORS)
    assert len(matches) == len(set(matches))
