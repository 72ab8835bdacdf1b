"""Serve an aiohttp application on a local port for as long as a block runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.log import access_logger

__all__ = ["serve_app"]


@asynccontextmanager
async def serve_app(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    access_log: bool = False,
    shutdown_timeout: float = 2.0,
) -> AsyncIterator[str]:
    """Run ``app`` and yield its base URL (``http://host:port``, no trailing slash).

    ``port=0`` binds a free port chosen by the OS; the URL names the real one. The
    server stops (shutdown hooks run, open requests get ``shutdown_timeout`` seconds)
    when the block exits.
    """
    runner = web.AppRunner(
        app,
        access_log=access_logger if access_log else None,
        shutdown_timeout=shutdown_timeout,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
        yield f"http://{shown}:{bound_port}"
    finally:
        await runner.cleanup()
