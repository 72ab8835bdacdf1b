"""The WhatsApp Web session workers (``herald worker whatsapp``).

One browser session per tenant (``tenant-{tenantId}``), pinned to the worker that owns
the tenant's ``whatsapp.dispatch`` partition: :class:`SessionManager` and
:class:`WhatsAppSession` (the state machine), the dispatch and command processors, the
session endpoints, and the events to ``whatsapp.qr``, ``whatsapp.state`` and
``whatsapp.inbound``. The Playwright driver (``streams.whatsapp.browser``) and the
worker's runtime (``streams.whatsapp.runtime``) are imported only by that worker.
"""

from __future__ import annotations

from streams.whatsapp.commands import CommandProcessor, decode_command
from streams.whatsapp.dispatch import DispatchProcessor
from streams.whatsapp.driver import (
    ContextReset,
    DriverClosed,
    DriverError,
    DriverFactory,
    DriverSpec,
    DriverTimeout,
    SessionDriver,
    WppError,
)
from streams.whatsapp.endpoints import SessionEndpoints
from streams.whatsapp.events import (
    FaustWhatsAppSink,
    MemoryWhatsAppSink,
    SessionEvents,
    WhatsAppSink,
)
from streams.whatsapp.manager import SessionManager, options_for
from streams.whatsapp.session import (
    NOT_AUTHENTICATED,
    SessionOptions,
    SessionPhase,
    WhatsAppSession,
)
from streams.whatsapp.store import SessionStore, qr_key, session_key
from streams.whatsapp.tokens import FileTokenStore, session_name

__all__ = [
    "NOT_AUTHENTICATED",
    "CommandProcessor",
    "ContextReset",
    "DispatchProcessor",
    "DriverClosed",
    "DriverError",
    "DriverFactory",
    "DriverSpec",
    "DriverTimeout",
    "FaustWhatsAppSink",
    "FileTokenStore",
    "MemoryWhatsAppSink",
    "SessionDriver",
    "SessionEndpoints",
    "SessionEvents",
    "SessionManager",
    "SessionOptions",
    "SessionPhase",
    "SessionStore",
    "WhatsAppSession",
    "WhatsAppSink",
    "WppError",
    "decode_command",
    "options_for",
    "qr_key",
    "session_key",
    "session_name",
]
