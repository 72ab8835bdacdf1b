"""Structured logging: one JSON object per line with the ``extra`` fields, or text."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from schemas.settings import Settings
from streams.platform.logging import configure_logging, logging_dict_config
from tests.helpers import kept_root_logging


@pytest.fixture(autouse=True)
def restore_root() -> Iterator[None]:
    with kept_root_logging():
        yield


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_json_lines_carry_extra_fields() -> None:
    stream = io.StringIO()
    configure_logging(_settings(log_format="json", log_level="info"), stream=stream)
    log = logging.getLogger("herald.test")
    log.info(
        "sent %s",
        "n-1",
        extra={"tenant_id": "acme", "notification_id": "n-1", "token": SecretStr("s3cr3t")},
    )
    log.debug("hidden")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", extra={"provider": "whatsapp-business"})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "sent n-1"
    assert first["level"] == "info"
    assert first["logger"] == "herald.test"
    assert first["tenant_id"] == "acme"
    assert first["notification_id"] == "n-1"
    assert first["ts"].endswith("+00:00")
    assert "s3cr3t" not in stream.getvalue()
    assert second["level"] == "error"
    assert second["provider"] == "whatsapp-business"
    assert "ValueError: boom" in second["exc"]


def test_warn_is_warning_and_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(_settings(log_level="warn"), stream=first)
    configure_logging(_settings(log_level="warn", log_format="text"), stream=second)
    log = logging.getLogger("herald.test")
    log.info("quiet")
    log.warning("loud", extra={"tenant_id": "acme"})
    assert first.getvalue() == ""
    (line,) = second.getvalue().splitlines()
    assert "WARNING" in line
    assert line.endswith("herald.test: loud tenant_id=acme")


def test_dict_config_installs_the_same_formatter(capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(logging_dict_config(_settings(log_level="debug")))
    logging.getLogger("herald.test").debug("via dict config", extra={"tenant_id": "acme"})
    entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert entry["msg"] == "via dict config"
    assert entry["level"] == "debug"
    assert entry["tenant_id"] == "acme"
