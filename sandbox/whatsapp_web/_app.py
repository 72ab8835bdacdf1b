"""The simulator's aiohttp application: the page, its scripts, the link, the phone API."""

from __future__ import annotations

import io
from importlib import resources
from typing import TYPE_CHECKING

from aiohttp import web

from sandbox.whatsapp_web._http import add_phone_routes
from sandbox.whatsapp_web._socket import serve_page_socket

if TYPE_CHECKING:
    from sandbox.whatsapp_web.simulator import WhatsAppWebSimulator

__all__ = ["build_app"]

_STATIC = resources.files("sandbox.whatsapp_web") / "static"

#: The page's Content-Security-Policy, shaped like WhatsApp Web's since 2024: scripts only
#: from the origin (no 'unsafe-inline', no 'unsafe-eval'), connections only to it. A client
#: that injects scripts must do so without a script tag or eval, as on the real page.
PAGE_CSP = (
    "default-src 'self' data: blob:; script-src 'self' 'wasm-unsafe-eval'; "
    "style-src 'self' data: blob: 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self' data: blob:; frame-ancestors 'self'"
)
_FILES = {
    "index.html": "text/html",
    "wa-base.js": "text/javascript",
    "wa-sim.js": "text/javascript",
    "wa-conn.js": "text/javascript",
    "wa-chat.js": "text/javascript",
    "page.js": "text/javascript",
}


def build_app(sim: WhatsAppWebSimulator) -> web.Application:
    """``GET /`` (the page), ``/static/*``, ``/ws``, ``/qr.svg``, ``/health`` and ``/phone/*``."""
    app = web.Application(client_max_size=8 * 1024 * 1024)

    async def index(_: web.Request) -> web.Response:
        page = _static("index.html")
        page.headers["Content-Security-Policy"] = PAGE_CSP
        return page

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _FILES or name == "index.html":
            raise web.HTTPNotFound()
        return _static(name)

    async def socket(request: web.Request) -> web.StreamResponse:
        return await serve_page_socket(sim, request)

    async def qr_svg(request: web.Request) -> web.Response:
        return _qr_svg(request.query.get("data", ""))

    async def no_content(_: web.Request) -> web.Response:
        return web.Response(status=204)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "pages": len(sim._pages)})

    async def on_shutdown(_: web.Application) -> None:
        await sim.close()

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/ws", socket)
    app.router.add_get("/qr.svg", qr_svg)
    app.router.add_get("/favicon.ico", no_content)
    app.router.add_get("/health", health)
    add_phone_routes(app, sim)
    app.on_shutdown.append(on_shutdown)
    return app


def _static(name: str) -> web.Response:
    body = (_STATIC / name).read_bytes()
    headers = {"Cache-Control": "no-store"}
    return web.Response(body=body, content_type=_FILES[name], charset="utf-8", headers=headers)


def _qr_svg(data: str) -> web.Response:
    """The QR code of ``data`` as SVG (what WhatsApp Web draws in its canvas)."""
    if not data or len(data) > 2048:
        raise web.HTTPBadRequest(text="data must be 1 to 2048 characters")
    try:
        import segno
    except ImportError as exc:  # the page then draws a placeholder
        raise web.HTTPNotFound(text="segno is not installed") from exc
    out = io.BytesIO()
    segno.make(data, error="l").save(out, kind="svg", scale=4, border=2)
    return web.Response(body=out.getvalue(), content_type="image/svg+xml")
