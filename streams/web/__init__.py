"""HTTP views on the worker's web server (Faust's aiohttp server, ``HERALD_WEB_PORT``)."""

from __future__ import annotations

from streams.web import views

__all__ = ["views"]
