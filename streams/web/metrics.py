"""``GET /metrics``: the worker's metrics in the Prometheus text format (both roles).

Served on an admin listener of its own (``HERALD_METRICS_HOST``, default loopback, and
``HERALD_METRICS_PORT``), not on the public web port that receives webhooks: the metrics
carry tenant labels. With ``HERALD_METRICS_TOKEN`` set, a scrape needs
``Authorization: Bearer <token>``. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set the same
metrics are also pushed over OTLP/HTTP. Instruments and example queries:
``streams/platform/metrics.py``, docs/whatsapp-sessions.md; the decision: docs/security.md.
"""

from __future__ import annotations

import errno
import hmac
import logging

import faust
from aiohttp import web
from mode import Service

from schemas import Settings
from streams.platform.metrics import PROMETHEUS_CONTENT_TYPE, configure, prometheus_text

__all__ = ["MetricsServer", "metrics_app", "register"]

log = logging.getLogger(__name__)


def metrics_app(token: str | None) -> web.Application:
    """The admin listener's aiohttp app: ``GET /metrics`` (token-checked if ``token``)."""
    expected = f"Bearer {token}".encode() if token else None

    async def metrics(request: web.Request) -> web.Response:
        if expected is not None:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return web.Response(
                    status=401,
                    text="metrics need a bearer token\n",
                    headers={"WWW-Authenticate": 'Bearer realm="herald-metrics"'},
                )
        return web.Response(
            body=prometheus_text(), headers={"Content-Type": PROMETHEUS_CONTENT_TYPE}
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


class MetricsServer(Service):
    """The admin listener, started and stopped with the Faust app."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings
        self._runner: web.AppRunner | None = None

    async def on_start(self) -> None:
        settings = self._settings
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        runner = web.AppRunner(metrics_app(token or None), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.metrics_host, settings.metrics_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            if exc.errno != errno.EADDRINUSE:
                raise
            # Another worker on this host has it (two roles on one machine): metrics stay
            # reachable there and over OTLP; the worker itself must not die for it.
            log.warning(
                "metrics port in use: GET /metrics not served by this worker",
                extra={"host": settings.metrics_host, "port": settings.metrics_port},
            )
            return
        self._runner = runner
        log.info(
            "metrics listener started",
            extra={
                "host": settings.metrics_host,
                "port": settings.metrics_port,
                "token": token is not None,
            },
        )

    async def on_stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def register(app: faust.App, settings: Settings) -> None:
    configure(otlp_endpoint=settings.otel_exporter_otlp_endpoint)
    if settings.metrics_port:
        app.add_dependency(MetricsServer(settings))
