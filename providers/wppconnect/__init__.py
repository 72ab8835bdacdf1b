"""The ``wppconnect`` provider: WhatsApp Web through ``@wppconnect/wa-js`` in Chromium.

The provider class validates and describes sends (:class:`WPPConnectProvider`,
:class:`WppCall`); the browser side lives in the session workers
(``streams.whatsapp``). :data:`BRIDGE_JS` is the script injected into every page load
next to the wa-js bundle; :mod:`providers.wppconnect._contract` names the wa-js API it
may use.
"""

from __future__ import annotations

from providers.wppconnect._acks import ACK, AckOutcome, ack_outcome
from providers.wppconnect._bridge import BINDING_NAME, BRIDGE_JS, CALL_FUNCTION
from providers.wppconnect._contract import (
    WAJS_PACKAGE,
    WAJS_VERSION,
    WPP_EVENTS,
    WPP_FUNCTIONS,
    WPP_PROPERTIES,
)
from providers.wppconnect._errors import PERMANENT as PERMANENT_WPP_CODES
from providers.wppconnect._errors import WppErrorClass, classify_wpp_error
from providers.wppconnect._payload import WppCall, build_call, content_type, to_wid
from providers.wppconnect._provider import WPPConnectProvider
from providers.wppconnect._qr import render_qr

__all__ = [
    "ACK",
    "BINDING_NAME",
    "BRIDGE_JS",
    "CALL_FUNCTION",
    "PERMANENT_WPP_CODES",
    "WAJS_PACKAGE",
    "WAJS_VERSION",
    "WPP_EVENTS",
    "WPP_FUNCTIONS",
    "WPP_PROPERTIES",
    "AckOutcome",
    "WPPConnectProvider",
    "WppCall",
    "WppErrorClass",
    "ack_outcome",
    "build_call",
    "classify_wpp_error",
    "content_type",
    "render_qr",
    "to_wid",
]
