"""``HERALD_EVENT_LOOP``: the worker's event loop (uvloop by default)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import uvloop

from schemas import Settings
from streams.cli.worker import use_event_loop


@pytest.fixture(autouse=True)
def _restore_policy() -> Iterator[None]:
    yield
    asyncio.set_event_loop_policy(None)


def test_uvloop_is_the_default() -> None:
    assert Settings().event_loop == "uvloop"


def test_uvloop_makes_every_new_loop_a_libuv_loop() -> None:
    assert use_event_loop("uvloop") is True
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_keeps_the_standard_loop() -> None:
    use_event_loop("uvloop")
    assert use_event_loop("asyncio") is False
    loop = asyncio.new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_the_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_EVENT_LOOP", "asyncio")
    assert Settings().event_loop == "asyncio"
    monkeypatch.setenv("HERALD_EVENT_LOOP", "tokio")
    with pytest.raises(ValueError, match="uvloop"):
        Settings()
