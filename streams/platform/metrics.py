"""Herald's metrics, through OpenTelemetry: Prometheus scrape and OTLP push.

One :class:`HeraldMetrics` per process (:func:`metrics`), with its own meter provider:

* a :class:`~opentelemetry.exporter.prometheus.PrometheusMetricReader`, so that
  ``GET /metrics`` on every worker's web server answers in the Prometheus text format
  (:func:`prometheus_text`);
* an OTLP/HTTP exporter as well when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set
  (:func:`configure` at worker start).

Instruments (Prometheus names in brackets; docs/whatsapp-sessions.md has example queries):

* ``herald.notifications.sent`` / ``.failed`` per ``provider`` (``failed`` also per error
  ``code``) [``herald_notifications_sent_total``, ``herald_notifications_failed_total``];
* ``herald.status.deduplicated`` per ``status``: status events not produced because their
  ``eventId`` was already on the topic (replays after a crash, ``streams/platform/outbox.py``)
  [``herald_status_deduplicated_total``];
* WhatsApp sessions: ``herald.whatsapp.qr_codes``, ``.reconnections`` (per ``reason``),
  ``.handovers`` (per ``how``: released, expired), ``.snapshots``, ``.restores``,
  ``.session.refused``, the ``.session.lifetime`` histogram (seconds), and the gauges
  ``.sessions.active``, ``.session.queue_depth``, ``.session.memory`` (bytes) and
  ``.session.token_size`` (bytes) per ``tenant``, read from the sources registered with
  :meth:`HeraldMetrics.add_source` (the WhatsApp worker's session manager).

Label values are bounded: providers, error codes and the tenants whose sessions run on
this worker (at most ``WHATSAPP_WPPCONNECT_MAX_SESSIONS``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Counter, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

__all__ = [
    "PROMETHEUS_CONTENT_TYPE",
    "GaugeSource",
    "HeraldMetrics",
    "configure",
    "metrics",
    "prometheus_text",
]

log = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"  # UTF-8, as Prometheus assumes

#: ``source() -> {gauge name: [(value, attributes), ...]}``; names as in ``_GAUGES``.
GaugeSource = Callable[[], dict[str, list[tuple[float, dict[str, str]]]]]

_LIFETIME_BUCKETS = (10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 7 * 86400)

_GAUGES: dict[str, tuple[str, str]] = {
    "sessions_active": ("herald.whatsapp.sessions.active", "WhatsApp sessions open on this worker"),
    "queue_depth": (
        "herald.whatsapp.session.queue_depth",
        "messages waiting for (or being sent through) a tenant's session on this worker",
    ),
    "memory": (
        "herald.whatsapp.session.memory",
        "memory (PSS) of a session's browser processes, bytes",
    ),
    "token_size": (
        "herald.whatsapp.session.token_size",
        "size of a session's encrypted profile archive in the redis token store, bytes",
    ),
}
_GAUGE_UNITS = {"memory": "By", "token_size": "By"}


class HeraldMetrics:
    def __init__(self, readers: Iterable[MetricReader] = (), *, service: str = "herald") -> None:
        self._provider = MeterProvider(
            metric_readers=list(readers),
            resource=Resource.create({"service.name": service}),
        )
        meter = self._provider.get_meter("herald")
        self._sources: list[GaugeSource] = []
        self._lock = threading.Lock()

        def counter(name: str, description: str) -> Counter:
            return meter.create_counter(name, unit="1", description=description)

        self.sent_counter = counter("herald.notifications.sent", "notifications sent, per provider")
        self.failed_counter = counter(
            "herald.notifications.failed", "notifications failed, per provider and error code"
        )
        self.deduplicated_counter = counter(
            "herald.status.deduplicated",
            "status events not produced again: their eventId was on the topic",
        )
        self.qr_codes = counter("herald.whatsapp.qr_codes", "QR codes generated")
        self.reconnections = counter(
            "herald.whatsapp.reconnections",
            "sessions reopened or reloaded after a crash or a lost link, per reason",
        )
        self.handovers = counter(
            "herald.whatsapp.handovers",
            "sessions this worker took over, per how the previous owner let go",
        )
        self.snapshots = counter("herald.whatsapp.snapshots", "profile archives stored")
        self.restores = counter("herald.whatsapp.restores", "profile archives restored")
        self.refused = counter(
            "herald.whatsapp.session.refused",
            "sessions refused because the worker runs its maximum",
        )
        self.lifetime = meter.create_histogram(
            "herald.whatsapp.session.lifetime",
            unit="s",
            description="how long a session's browser ran, from start to close",
            explicit_bucket_boundaries_advisory=list(_LIFETIME_BUCKETS),
        )
        for key, (name, description) in _GAUGES.items():
            meter.create_observable_gauge(
                name,
                callbacks=[self._observer(key)],
                unit=_GAUGE_UNITS.get(key, "1"),
                description=description,
            )

    # --- recording ----------------------------------------------------------------------

    def sent(self, provider: str | None) -> None:
        self.sent_counter.add(1, {"provider": provider or "none"})

    def failed(self, provider: str | None, code: str) -> None:
        self.failed_counter.add(1, {"provider": provider or "none", "code": code})

    def deduplicated(self, status: str) -> None:
        self.deduplicated_counter.add(1, {"status": status})

    # --- gauges -------------------------------------------------------------------------

    def add_source(self, source: GaugeSource) -> None:
        with self._lock:
            self._sources.append(source)

    def remove_source(self, source: GaugeSource) -> None:
        with self._lock:
            if source in self._sources:
                self._sources.remove(source)

    def _observer(self, key: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                sources = list(self._sources)
            found: list[Observation] = []
            for source in sources:
                try:
                    values = source().get(key, [])
                except Exception:  # a gauge must never break a scrape
                    log.exception("metrics source failed", extra={"gauge": key})
                    continue
                found.extend(Observation(value, attributes) for value, attributes in values)
            return found

        return observe

    def shutdown(self) -> None:
        self._provider.shutdown()


_INSTANCE: HeraldMetrics | None = None
_INSTANCE_LOCK = threading.Lock()
_OTLP_ENDPOINT: str | None = None


def _readers(otlp_endpoint: str | None) -> list[MetricReader]:
    readers: list[MetricReader] = []
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader

        readers.append(PrometheusMetricReader())
    except ImportError:  # pragma: no cover - a dependency; keep counting without it
        log.warning("opentelemetry-exporter-prometheus is missing: GET /metrics stays empty")
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/metrics")
        readers.append(PeriodicExportingMetricReader(exporter))
    return readers


def configure(*, otlp_endpoint: str | None = None, service: str = "herald") -> HeraldMetrics:
    """Create the process's metrics (once); later calls return the same instance."""
    global _INSTANCE, _OTLP_ENDPOINT
    with _INSTANCE_LOCK:
        if _INSTANCE is None:
            endpoint = otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None
            _INSTANCE = HeraldMetrics(_readers(endpoint), service=service)
            _OTLP_ENDPOINT = endpoint
        elif otlp_endpoint and otlp_endpoint != _OTLP_ENDPOINT:
            log.warning("metrics already configured; OTEL_EXPORTER_OTLP_ENDPOINT change ignored")
        return _INSTANCE


def metrics() -> HeraldMetrics:
    """The process's metrics (created on first use, Prometheus reader only)."""
    return _INSTANCE if _INSTANCE is not None else configure()


def prometheus_text() -> bytes:
    """Everything the Prometheus reader collects, in the text exposition format."""
    metrics()
    from prometheus_client import REGISTRY, generate_latest

    data: Any = generate_latest(REGISTRY)
    return bytes(data)
