"""The WhatsApp Web session workers (``herald worker whatsapp``).

One browser session per ``wppconnect`` integration of a tenant (``tenant-{tenantId}``; a
tenant's further sessions ``tenant-{tenantId}@{sessionName}``: ``naming.py``, chosen by a
request's ``sender``, a command's ``sessionName`` or the endpoints' ``?session=`` through
one helper, ``selection.py``), pinned to the worker that owns the tenant's
``whatsapp.dispatch`` partition and holds its lease (:class:`LeaseManager`):
:class:`SessionManager` and :class:`WhatsAppSession` (the state machine, self-healing),
the token stores (``file``, ``redis``: an encrypted profile archive any worker restores),
the upkeep (lease renewal, hand-over, idle close, snapshots), the dispatch and command
processors, the session endpoints, and the events to ``whatsapp.qr``, ``whatsapp.state``
and ``whatsapp.inbound``. docs/whatsapp-sessions.md explains ownership and recovery.

A session is split by responsibility: ``core.py`` (shared state, timers, shutdown),
``session.py`` (the run's lifecycle and the pump of the page's events), ``pairing.py``
(QR codes, login, connection states and their deadlines), ``healing.py`` (the watchdog
and reopening), ``login.py`` (Herald's copy of a fresh login); the manager's side:
``manager.py`` (sessions per worker, admission, hand-over), ``sending.py`` (message ids,
the send, error translation), ``persistence.py`` (when a profile is archived). The
Playwright driver (``streams.whatsapp.browser``) and the worker's runtime
(``streams.whatsapp.runtime``) are imported only by that worker.
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
from streams.whatsapp.lease import Lease, LeaseManager, LeaseUnavailable
from streams.whatsapp.manager import SessionManager, message_key, options_for
from streams.whatsapp.naming import SessionRef, session_id, split_sid
from streams.whatsapp.pacing import Pacer
from streams.whatsapp.selection import select_session, session_for
from streams.whatsapp.session import (
    NOT_AUTHENTICATED,
    SESSION_FAILED,
    SessionOptions,
    SessionPhase,
    WhatsAppSession,
)
from streams.whatsapp.store import SessionStore, qr_key, session_key
from streams.whatsapp.tokens import (
    FileTokenStore,
    RedisTokenStore,
    TokenStore,
    session_name,
    token_key,
)
from streams.whatsapp.upkeep import Upkeep

__all__ = [
    "NOT_AUTHENTICATED",
    "SESSION_FAILED",
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
    "Lease",
    "LeaseManager",
    "LeaseUnavailable",
    "MemoryWhatsAppSink",
    "Pacer",
    "RedisTokenStore",
    "SessionDriver",
    "SessionEndpoints",
    "SessionEvents",
    "SessionManager",
    "SessionOptions",
    "SessionPhase",
    "SessionRef",
    "SessionStore",
    "TokenStore",
    "Upkeep",
    "WhatsAppSession",
    "WhatsAppSink",
    "WppError",
    "decode_command",
    "message_key",
    "options_for",
    "qr_key",
    "select_session",
    "session_for",
    "session_id",
    "session_key",
    "session_name",
    "split_sid",
    "token_key",
]
