"""Rendering a WhatsApp Web pairing code as a QR code (segno: PNG and terminal text).

WPPConnect hands its ``catchQR`` callback a PNG data URL, the same code as text for a
terminal and the raw code (``urlCode``); Herald produces the same three from
``WPP.conn.getAuthCode().fullCode``.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import segno

from schemas.status import utcnow
from schemas.whatsapp import QrCode

__all__ = ["render_qr"]


def render_qr(url_code: str, *, attempts: int, ttl_ms: int, now: datetime | None = None) -> QrCode:
    """The seed's QR JSON for ``url_code``: PNG data URL, terminal text, expiry, attempt."""
    qr = segno.make(url_code, error="l", micro=False)
    text = io.StringIO()
    qr.terminal(out=text, compact=True, border=2)
    issued = now or utcnow()
    return QrCode(
        qr_code=qr.png_data_uri(scale=6, border=4),
        ascii_qr=text.getvalue(),
        url_code=url_code,
        expires_at=issued + timedelta(milliseconds=ttl_ms),
        attempts=attempts,
    )
