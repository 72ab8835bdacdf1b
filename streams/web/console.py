"""The session console: ``GET /console/whatsapp``, served by the WhatsApp worker.

A page where a tenant enters its API key and follows its sessions (the event stream,
``streams.whatsapp.live``), scans the QR code or links by phone number, and disconnects
or logs out through the session endpoints. Plain HTML, CSS and JavaScript shipped as
package data (``streams/web/static/``), no build step; the key stays in the tab's memory.

Every answer carries a strict Content-Security-Policy: scripts and styles only from this
origin (no inline script, no ``eval``), images from this origin or ``data:`` (the QR code
is a PNG data URL), requests only to this origin, and no framing (clickjacking).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import faust
from faust.web import Request, Response, View

__all__ = ["CONSOLE_PATH", "SECURITY_HEADERS", "register"]

CONSOLE_PATH = "/console/whatsapp"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-cache",
}

#: name under /console/whatsapp/ -> (package file, content type)
_ASSETS = {
    "": ("whatsapp-console.html", "text/html; charset=utf-8"),
    "console.js": ("whatsapp-console.js", "text/javascript; charset=utf-8"),
    "console.css": ("whatsapp-console.css", "text/css; charset=utf-8"),
}


@cache
def asset(name: str) -> bytes:
    """A file of the console, read once from the installed package."""
    return resources.files("streams.web").joinpath("static", name).read_bytes()


def register(app: faust.App) -> None:
    def view_for(name: str) -> type[View]:
        filename, content_type = _ASSETS[name]

        async def get(view: View, request: Request) -> Response:
            headers = {**SECURITY_HEADERS, "Content-Type": content_type}
            return view.bytes(asset(filename), headers=headers)

        return type(f"Console{filename.replace('-', '_').replace('.', '_')}", (View,), {"get": get})

    for name in _ASSETS:
        app.page(f"{CONSOLE_PATH}/{name}" if name else CONSOLE_PATH)(view_for(name))
