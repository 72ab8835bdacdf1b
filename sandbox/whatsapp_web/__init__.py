"""WhatsApp Web simulator: a page implementing wa-js's API, a fake phone, a fake server.

See :mod:`sandbox.whatsapp_web.simulator` and docs/whatsapp-web-simulator.md::

    sim = WhatsAppWebSimulator(qr_interval=2)
    async with serve_app(sim.app, port=0) as url:
        ...  # point a browser (or Herald's bridge) at url
"""

from __future__ import annotations

from sandbox.whatsapp_web._protocol import (
    ACK_MAX,
    ACK_MIN,
    PROTOCOL_VERSION,
    AuthCodeParts,
    parse_full_code,
)
from sandbox.whatsapp_web._records import (
    Device,
    IncomingMessage,
    PendingCode,
    SentMessage,
    SessionStats,
)
from sandbox.whatsapp_web.simulator import WhatsAppWebSimulator

__all__ = [
    "ACK_MAX",
    "ACK_MIN",
    "PROTOCOL_VERSION",
    "AuthCodeParts",
    "Device",
    "IncomingMessage",
    "PendingCode",
    "SentMessage",
    "SessionStats",
    "WhatsAppWebSimulator",
    "parse_full_code",
]
