"""A fake WhatsApp Web page for the session state machine (no browser).

:class:`FakeWhatsApp` is the world: it creates :class:`FakeDriver` pages and records
what they sent. A page is "paired" when its profile directory holds the fake pairing
file, so the token store's semantics (a profile survives a restart; ``deleteToken``
removes it) hold as with a real browser profile.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from schemas.whatsapp import QrCode, SessionStatus
from streams.whatsapp.driver import (
    DriverClosed,
    DriverError,
    DriverSpec,
    EventCallback,
    WppError,
)
from streams.whatsapp.manager import SessionManager
from streams.whatsapp.options import LinkCode
from streams.whatsapp.session import WhatsAppSession
from streams.whatsapp.tokens import FileTokenStore
from tests.helpers import make_settings

PAIRING_FILE = "fake-pairing"


@dataclass
class Sent:
    session: str
    function: str
    chat_id: str
    args: tuple[Any, ...]
    message_id: str


class FakeWhatsApp:
    def __init__(self) -> None:
        self.drivers: list[FakeDriver] = []
        self.sent: list[Sent] = []
        self.not_on_whatsapp: set[str] = set()
        self.fail_open = False
        #: Opens that fail from now on (a browser that keeps crashing at start).
        self.failing_opens = 0
        #: Raised by every page's ``snapshot`` (the watchdog's probe) while set.
        self.snapshot_error: DriverError | None = None
        self.snapshot_ready = True
        self.probes = 0  # snapshots asked (the watchdog's checks)
        self.probed = asyncio.Event()  # set (and replaced) at each one
        #: ``function -> error``: the next call of that function raises it (once).
        self.fail_next: dict[str, DriverError] = {}
        #: The socket state a paired page reports when it loads (``TIMEOUT``: offline).
        self.paired_state = "CONNECTED"
        #: Pages cannot keep their login (Herald's copy, ``login.py``) while set.
        self.keep_login_fails = False
        #: Pages load but never report in (WhatsApp Web stuck on its loading screen).
        self.silent = False
        self._ids = itertools.count(1)

    def factory(self, spec: DriverSpec, callback: EventCallback) -> FakeDriver:
        driver = FakeDriver(self, spec, callback)
        self.drivers.append(driver)
        return driver

    def latest(self, tenant_id: str) -> FakeDriver:
        return [d for d in self.drivers if d.spec.tenant_id == tenant_id][-1]

    def next_id(self) -> int:
        return next(self._ids)


class FakeDriver:
    def __init__(self, world: FakeWhatsApp, spec: DriverSpec, callback: EventCallback) -> None:
        self.world = world
        self.spec = spec
        self.callback = callback
        self.opened = False
        self.closed = False
        self.crashed = False  # died on its own: its close is not clean
        self.kept_logins = 0
        self.reloads = 0
        self.takeovers = 0
        self.refreshes = 0
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.code_number = 1
        self.link_phone: str | None = None  # the number a pairing code was asked for

    @property
    def pairing(self) -> Any:
        return self.spec.profile_dir / PAIRING_FILE

    @property
    def paired(self) -> bool:
        return self.pairing.exists()

    @property
    def code(self) -> str:
        return f"2@fake-ref-{self.code_number},key,identity,secret"

    def emit(self, name: str, payload: Any = None) -> None:
        self.callback(name, payload)

    def _ready(self) -> None:
        paired = self.paired
        self.emit(
            "bridge.ready",
            {
                "ready": True,
                "authenticated": paired,
                "mainReady": paired,
                "state": self.world.paired_state if paired else "UNPAIRED",
            },
        )

    async def open(self) -> None:
        if self.world.fail_open:
            raise DriverClosed("chromium did not start")
        if self.world.failing_opens > 0:
            self.world.failing_opens -= 1
            raise DriverClosed("chromium crashed at start")
        self.opened = True
        if not self.world.silent:
            asyncio.get_running_loop().call_soon(self._ready)

    async def call(self, function: str, *args: Any) -> Any:
        if self.closed:
            raise DriverClosed("closed")
        self.calls.append((function, args))
        error = self.world.fail_next.pop(function, None)
        if error is not None:
            raise error
        if function == "conn.refreshQR":
            self.refreshes += 1
            self.code_number += 1
            return {"fullCode": self.code, "ref": "r", "type": "md"}
        if function == "conn.getAuthCode":
            return None if self.paired else {"fullCode": self.code, "ref": "r", "type": "md"}
        if function == "conn.genLinkDeviceCodeForPhoneNumber":
            if self.paired:
                raise WppError(
                    "Can't get code for already authenticated user",
                    code="cannot_get_code_for_already_authenticated",
                )
            self.link_phone = str(args[0])
            return f"LINK{self.code_number:04d}"
        if function == "conn.getMyUserId":
            return f"{self.pairing.read_text()}@c.us" if self.paired else None
        if function == "conn.logout":
            self.pairing.unlink(missing_ok=True)
            return True
        if function == "contact.queryExists":
            wid = str(args[0])
            return None if wid.split("@")[0] in self.world.not_on_whatsapp else {"wid": wid}
        if function.startswith("chat.send"):
            chat = str(args[0])
            message_id = f"true_{chat}_3EB0{self.world.next_id():016X}"
            self.world.sent.append(Sent(self.spec.session, function, chat, args[1:], message_id))
            return {"id": message_id, "ack": 0}
        raise DriverError(f"unexpected call {function}")

    async def snapshot(self) -> dict[str, Any]:
        self.world.probes += 1
        probed, self.world.probed = self.world.probed, asyncio.Event()
        probed.set()
        if self.closed:
            raise DriverClosed("closed")
        if self.world.snapshot_error is not None:
            raise self.world.snapshot_error
        ready = self.world.snapshot_ready
        return {"ready": ready, "authenticated": self.paired, "mainReady": self.paired}

    async def takeover(self) -> bool:
        self.takeovers += 1
        asyncio.get_running_loop().call_soon(self.emit, "socket.state", "CONNECTED")
        return True

    async def reload(self) -> None:
        self.reloads += 1
        asyncio.get_running_loop().call_soon(self._ready)

    async def keep_login(self) -> bool:
        if self.closed:
            raise DriverClosed("closed")
        if self.world.keep_login_fails:
            raise DriverError("localStorage is not readable")
        self.kept_logins += 1
        return self.paired

    async def close(self) -> bool:
        clean = not self.closed and not self.crashed
        self.closed = True
        return clean

    def crash(self, *, notify: bool = True) -> None:
        """The browser dies (its close will not be clean); ``notify``: the page says so."""
        self.crashed = True
        if notify:
            self.emit("browser.disconnected")

    # --- "the phone" ---------------------------------------------------------------------

    def rotate_code(self) -> None:
        self.code_number += 1
        self.emit("conn.auth_code_change", {"fullCode": self.code, "ref": "r", "type": "md"})

    def fail_scan(self) -> None:
        """A phone scanned, but the link failed: PAIRING, then a new code (UNPAIRED)."""
        self.emit("socket.state", "PAIRING")
        self.emit("socket.state", "UNPAIRED")
        self.rotate_code()

    def scan(self, phone: str = "5511988887777") -> None:
        self.pairing.write_text(phone)
        self.emit("conn.auth_code_change", None)
        self.emit("conn.authenticated")
        self.emit("socket.state", "CONNECTED")
        self.emit("conn.main_ready")


@dataclass
class Recorder:
    """A :class:`~streams.whatsapp.session.SessionListener` that keeps everything."""

    statuses: list[tuple[str, str, str | None]] = field(default_factory=list)
    states: list[tuple[str, str]] = field(default_factory=list)
    state_details: list[tuple[str, str, str | None]] = field(default_factory=list)
    qrs: list[tuple[str, QrCode]] = field(default_factory=list)
    link_codes: list[tuple[str, LinkCode]] = field(default_factory=list)
    cleared: int = 0
    acks: list[tuple[str, int, list[str]]] = field(default_factory=list)
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    def status_names(self, tenant: str | None = None) -> list[str]:
        return [s for t, s, _ in self.statuses if tenant is None or t == tenant]

    async def wait(self, predicate: Any, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while not predicate(self):
                await self.changed.wait()

    async def on_status(
        self, session: WhatsAppSession, status: SessionStatus, detail: str | None
    ) -> None:
        self.statuses.append((session.tenant_id, status.value, detail))
        self._notify()

    async def on_state(
        self, session: WhatsAppSession, state: Any, detail: str | None = None
    ) -> None:
        self.states.append((session.tenant_id, state.value))
        self.state_details.append((session.tenant_id, state.value, detail))
        self._notify()

    async def on_qr(self, session: WhatsAppSession, qr: QrCode) -> None:
        self.qrs.append((session.tenant_id, qr))
        self._notify()

    async def on_qr_cleared(self, session: WhatsAppSession) -> None:
        self.cleared += 1
        self._notify()

    async def on_link_code(self, session: WhatsAppSession, code: LinkCode) -> None:
        self.link_codes.append((session.tenant_id, code))
        self._notify()

    async def on_ack(self, session: WhatsAppSession, ack: int, ids: list[str]) -> None:
        self.acks.append((session.tenant_id, ack, ids))
        self._notify()

    async def on_message(self, session: WhatsAppSession, message: dict[str, Any]) -> None:
        self.messages.append((session.tenant_id, message))
        self._notify()


class _HasManager(Protocol):
    @property
    def manager(self) -> SessionManager: ...


W = TypeVar("W", bound=_HasManager)


@asynccontextmanager
async def closing_sessions(world: W) -> AsyncIterator[W]:
    """``world``, whose session manager closes every session on the way out."""
    try:
        yield world
    finally:
        await world.manager.close_all()


class FakeWorld:
    """A session manager over fake pages, its recorder and token store (one "worker")."""

    def __init__(self, tmp: Path, tokens: FileTokenStore | None = None) -> None:
        self.fake = FakeWhatsApp()
        self.events = Recorder()
        self.tokens = tokens or FileTokenStore(tmp / "tokens")
        self.manager = SessionManager(
            make_settings(wppconnect_token_folder=str(self.tokens.folder)),
            driver_factory=self.fake.factory,
            listener=self.events,
            tokens=self.tokens,
        )

    def pair(self, tenant: str = "acme", phone: str = "5511900000000") -> None:
        """A profile that is already paired (as if restored)."""
        self.tokens.profile_dir(tenant).joinpath(PAIRING_FILE).write_text(phone)


def write_files(root: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` (relative path -> bytes) under ``root``, as a browser profile."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def files_of(root: Path) -> dict[str, bytes]:
    """The files under ``root`` (relative path -> bytes), but the token store's marker."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != ".herald-token"
    }
