"""Headless Chromium for tests, through Playwright (shared by every browser-driving test).

Chromium is the system one (``apt-get install chromium``, done by scripts/bootstrap.sh as
root): ``WHATSAPP_WPPCONNECT_CHROMIUM_PATH`` if set, else ``/usr/bin/chromium``.
Playwright never downloads a browser here.

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        context = await launch_persistent(pw, tmp_path / "profile")  # a real profile dir
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.async_api import Browser, BrowserContext, Playwright

__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH_ENV",
    "EventLog",
    "chromium_path",
    "copy_profile",
    "launch_chromium",
    "launch_persistent",
    "require_chromium",
]

CHROMIUM_PATH_ENV = "WHATSAPP_WPPCONNECT_CHROMIUM_PATH"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
_T = TypeVar("_T")


def chromium_path() -> str:
    return os.environ.get(CHROMIUM_PATH_ENV) or "/usr/bin/chromium"


def require_chromium() -> str:
    """The Chromium executable; skips the test when it is missing (fails under CI)."""
    path = chromium_path()
    if shutil.which(path) is None:
        message = (
            f"Chromium not found at {path} (apt-get install chromium, or set {CHROMIUM_PATH_ENV})"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


async def launch_chromium(playwright: Playwright, **options: Any) -> Browser:
    """A headless Chromium browser (contexts from it have throw-away profiles)."""
    return await playwright.chromium.launch(
        executable_path=require_chromium(), args=CHROMIUM_ARGS, headless=True, **options
    )


async def launch_persistent(
    playwright: Playwright, user_data_dir: Path, **options: Any
) -> BrowserContext:
    """A headless Chromium on a real profile directory (kept on disk after closing)."""
    return await playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=require_chromium(),
        args=CHROMIUM_ARGS,
        headless=True,
        **options,
    )


def copy_profile(source: Path, target: Path) -> Path:
    """Copy a closed profile directory, leaving out Chromium's single-instance locks."""
    shutil.copytree(
        source, target, symlinks=True, ignore=shutil.ignore_patterns("Singleton*", "*.lock")
    )
    return target


class EventLog:
    """Events a page reported through an exposed function, kept across navigations.

    ``await log.wait_for(lambda: log.find("conn.logout"))`` waits, without polling, until
    the predicate holds (bounded by ``within`` seconds).
    """

    def __init__(self) -> None:
        self.items: list[tuple[str, list[Any]]] = []
        self._changed = asyncio.Event()

    def record(self, name: str, args: list[Any]) -> None:
        self.items.append((name, args))
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def names(self) -> list[str]:
        return [name for name, _ in self.items]

    def find(self, name: str) -> list[list[Any]]:
        return [args for n, args in self.items if n == name]

    def mark(self) -> int:
        """An index to look from (``since``) for events that happen after this point."""
        return len(self.items)

    def since(self, mark: int, name: str) -> list[list[Any]]:
        return [args for n, args in self.items[mark:] if n == name]

    async def wait_for(self, predicate: Callable[[], _T], within: float = 10.0) -> _T:
        async with asyncio.timeout(within):
            while True:
                changed = self._changed
                result = predicate()
                if result:
                    return result
                await changed.wait()
