"""What every CLI test shares: no ``.env`` or key/log settings from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import kept_root_logging


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No ``.env`` from the repository; Herald's log handler removed after each test."""
    monkeypatch.chdir(tmp_path)
    for name in ("HERALD_SECRET_KEY", "HERALD_PREVIOUS_SECRET_KEYS", "LOG_LEVEL", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    with kept_root_logging():
        yield
