"""``GET /metrics``: the worker's metrics in the Prometheus text format (both roles).

Scrape every worker (router and whatsapp) on ``HERALD_WEB_PORT``; with
``OTEL_EXPORTER_OTLP_ENDPOINT`` set the same metrics are also pushed over OTLP/HTTP.
Instruments and example queries: ``streams/platform/metrics.py``, docs/whatsapp-sessions.md.
"""

from __future__ import annotations

import faust
from faust.web import Request, Response, View

from schemas import Settings
from streams.platform.metrics import PROMETHEUS_CONTENT_TYPE, configure, prometheus_text

__all__ = ["register"]


def register(app: faust.App, settings: Settings) -> None:
    configure(otlp_endpoint=settings.otel_exporter_otlp_endpoint)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(prometheus_text(), content_type=PROMETHEUS_CONTENT_TYPE, status=200)
