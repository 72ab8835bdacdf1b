"""What a WhatsApp session needs from a browser page, as a protocol.

The session state machine (``streams.whatsapp.session``) talks to a
:class:`SessionDriver`: open the page, call ``WPP.<function>``, read the bridge's
snapshot, reload, close. Events from the page (wa-js events, socket state changes,
``bridge.ready`` after each load, ``page.closed``) reach the session through the
:data:`EventCallback` given to the factory. The Playwright implementation lives in
``streams.whatsapp.browser``; unit tests use a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from schemas.errors import DriverError

__all__ = [
    "ContextReset",
    "DriverClosed",
    "DriverError",
    "DriverFactory",
    "DriverSpec",
    "DriverTimeout",
    "EventCallback",
    "SessionDriver",
    "SessionProxy",
    "WppError",
]

#: ``callback(name, payload)``; called from the event loop, must not block.
EventCallback = Callable[[str, Any], None]


class DriverClosed(DriverError):
    """The page or its browser is gone."""


class ContextReset(DriverError):
    """The page navigated or reloaded during the call ("Execution context was destroyed")."""


class DriverTimeout(DriverError):
    """The page did not answer in time."""


class WppError(DriverError):
    """wa-js threw; ``code`` is its error code when it gave one."""

    def __init__(self, message: str, *, code: str | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


@dataclass(frozen=True, slots=True)
class SessionProxy:
    """The proxy a session's browser goes through (the credentials' ``proxy``).

    ``password`` stays out of ``repr`` (and so out of any log line that shows this).
    """

    server: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def playwright(self) -> dict[str, str]:
        """Playwright's ``proxy`` launch option."""
        found = {"server": self.server}
        if self.username is not None:
            found["username"] = self.username
        if self.password is not None:
            found["password"] = self.password
        return found


@dataclass(frozen=True, slots=True)
class DriverSpec:
    tenant_id: str
    session: str
    profile_dir: Path
    url: str
    proxy: SessionProxy | None = None


class SessionDriver(Protocol):
    async def open(self) -> None:
        """Launch the browser with the session's profile and load WhatsApp Web."""

    async def call(self, function: str, *args: Any) -> Any:
        """``await WPP.<function>(...args)``; raises a :class:`DriverError`."""

    async def snapshot(self) -> dict[str, Any]:
        """``{ready, authenticated, mainReady, state}`` as the bridge sees the page now."""

    async def takeover(self) -> bool:
        """Take the WhatsApp Web session back after a CONFLICT (``Socket.takeover()``)."""

    async def reload(self) -> None:
        """Reload the page (the bridge reports ``bridge.ready`` again)."""

    async def keep_login(self) -> bool:
        """Write the page's login to the profile now (``login.py``); ``False`` if none."""

    async def close(self) -> bool:
        """Close the browser; idempotent. The profile directory stays.

        ``True`` if the browser was alive and closed on this request (so Chromium wrote
        everything to the profile); ``False`` if it had died, or died while closing.
        """


DriverFactory = Callable[[DriverSpec, EventCallback], SessionDriver]
