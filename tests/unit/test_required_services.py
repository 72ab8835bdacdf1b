"""Tests that need PostgreSQL fail under CI when it is missing, and skip (saying why) elsewhere."""

from __future__ import annotations

import pytest

from tests.postgres import PostgresServer, in_ci, require_postgres

WHY = "no PostgreSQL: local postgres: ConnectionRefusedError"


@pytest.mark.parametrize("value", ["true", "1", "yes", "True"])
def test_a_missing_server_fails_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is required under CI"):
        require_postgres(WHY)


@pytest.mark.parametrize("value", [None, "", "0", "false", "no"])
def test_a_missing_server_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not in_ci()
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL"):
        require_postgres(WHY)


def test_a_server_is_handed_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    server = PostgresServer("127.0.0.1", 5432, "postgres", "postgres")
    assert require_postgres(server) is server
