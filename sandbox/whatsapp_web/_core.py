"""The simulated WhatsApp servers' state and the bookkeeping the page sockets use.

:class:`SimulatorCore` holds the devices, messages, pages and codes of a
:class:`~sandbox.whatsapp_web.simulator.WhatsAppWebSimulator` and what the page sockets
(``_socket.py``) and the linking code (``_linking.py``) call: attach and detach pages, show
and clear codes, log a page in, forget a device, deliver to a phone's pages. The phone's
API is the subclass's (``simulator.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from sandbox.whatsapp_web._app import build_app
from sandbox.whatsapp_web._directory import Directory
from sandbox.whatsapp_web._records import (
    Device,
    IncomingMessage,
    PendingCode,
    PendingLinkCode,
    SentMessage,
    SessionStats,
)

if TYPE_CHECKING:
    from sandbox.whatsapp_web._socket import PageSession
    from sandbox.whatsapp_web.simulator import WhatsAppWebSimulator

__all__ = ["SimulatorCore"]


class SimulatorCore(Directory):
    def __init__(
        self,
        *,
        qr_interval: float = 20.0,
        first_qr_interval: float | None = None,
        max_codes: int = 6,
        reload_on_logout: bool = True,
        reload_after_pairing: bool = False,
        scan_timeout: float = 15.0,
        query_cache_hit: float = 300.0,
        query_cache_miss: float = 15.0,
        reconnect_delay: float = 1.0,
        boot_delay: float = 0.0,
        link_code_ttl: float = 180.0,
        min_version: str | None = None,
    ) -> None:
        if qr_interval <= 0 or max_codes < 1:
            raise ValueError("qr_interval must be positive and max_codes at least 1")
        super().__init__()
        self.qr_interval = qr_interval
        self.first_qr_interval = first_qr_interval or qr_interval
        self.max_codes = max_codes
        self.reload_on_logout = reload_on_logout
        self.reload_after_pairing = reload_after_pairing
        self.scan_timeout = scan_timeout
        self.query_cache_hit = query_cache_hit
        self.query_cache_miss = query_cache_miss
        self.reconnect_delay = reconnect_delay
        self.boot_delay = boot_delay
        self.link_code_ttl = link_code_ttl
        #: The oldest WhatsApp Web build the "servers" accept (``None``: any): an older page
        #: is told to update (``conn.needs_update``, ``DEPRECATED_VERSION``).
        self.min_version = min_version
        #: Linked devices by device id (``<phone>:<n>@c.us``).
        self.devices: dict[str, Device] = {}
        self.messages: list[SentMessage] = []
        self.incoming_messages: list[IncomingMessage] = []
        #: wa-js error codes with which the next sends are refused, one each (``refuse``).
        self.refusals: list[str] = []
        self.stats: dict[str, SessionStats] = {}
        self._pages: dict[str, PageSession] = {}
        self._codes: dict[str, PendingCode] = {}
        self._backlog: dict[str, list[dict[str, Any]]] = {}
        self._offline_until: dict[str, float] = {}
        self._device_numbers: dict[str, Iterator[int]] = {}
        #: Pairing codes pages asked for (link by phone number), by code (no dash).
        self.link_codes: dict[str, PendingLinkCode] = {}
        #: Codes that expired (code -> phone), to tell "expired" from "wrong".
        self.expired_link_codes: dict[str, str] = {}
        self.app: web.Application = build_app(cast("WhatsAppWebSimulator", self))

    # --- used by the page sockets (_socket.py) ------------------------------------------

    def page_config(self) -> dict[str, Any]:
        return {
            "queryCacheHitMs": int(self.query_cache_hit * 1000),
            "queryCacheMissMs": int(self.query_cache_miss * 1000),
            "reloadOnLogout": self.reload_on_logout,
            "reloadAfterPairing": self.reload_after_pairing,
            "reconnectDelayMs": int(self.reconnect_delay * 1000),
        }

    def _attach(self, page: PageSession) -> None:
        self._pages[page.id] = page
        self.notify()

    async def _detach(self, page: PageSession) -> None:
        page.stop_rotation()
        self._set_code(page, None)
        if page.registered is not None and not page.registered.done():
            page.registered.set_exception(ConnectionError("the page closed before pairing"))
        self._pages.pop(page.id, None)
        self._recount()

    def _set_code(self, page: PageSession, code: PendingCode | None) -> None:
        if page.code is not None:
            self._codes.pop(page.code.ref, None)
        page.code = code
        if code is not None:
            self._codes[code.ref] = code
        self.notify()

    async def _login(self, page: PageSession, device: Device, *, resumed: bool) -> None:
        until = self._offline_until.get(device.phone, 0.0)
        if asyncio.get_running_loop().time() < until:
            await page.send({"type": "unavailable"})
            await page.ws.close(code=1013, message=b"phone offline")
            return
        page.device, page.conflict = device, False
        for other in self._pages.values():
            if other is not page and other.live and other.device is device:
                other.conflict = True
                await other.send({"type": "conflict"})
        stats = self.stats.setdefault(device.phone, SessionStats(device.phone))
        stats.logins += 1
        self._recount()
        await page.send(
            {
                "type": "connected",
                "deviceId": device.device_id,
                "phone": device.phone,
                "resumed": resumed,
            }
        )
        for payload in self._backlog.pop(device.phone, []):
            await page.send(payload)

    async def _forget_device(
        self, device: Device, *, reason: str, except_page: PageSession | None = None
    ) -> None:
        self.devices.pop(device.device_id, None)
        for page in list(self._pages.values()):
            if page.device is device and page is not except_page:
                page.device, page.conflict = None, False
                await page.send({"type": "logout", "reason": reason})
        if not any(d.phone == device.phone for d in self.devices.values()):
            self._backlog.pop(device.phone, None)
        self.notify()

    async def _deliver(self, phone: str, payload: dict[str, Any]) -> int:
        pages = [p for p in self._pages.values() if p.live and p.phone == phone]
        if not pages:
            self._backlog.setdefault(phone, []).append(payload)
            return 0
        for page in pages:
            await page.send(payload)
        return len(pages)

    def _recount(self) -> None:
        for phone in {p.phone for p in self._pages.values() if p.phone} | set(self.stats):
            stats = self.stats.setdefault(phone, SessionStats(phone))
            pages = [p for p in self._pages.values() if p.phone == phone]
            stats.open = len(pages)
            stats.live = sum(1 for p in pages if p.live)
            stats.max_concurrent = max(stats.max_concurrent, stats.open)
            stats.max_live = max(stats.max_live, stats.live)
        self.notify()
