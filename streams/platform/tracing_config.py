"""Turning tracing on: the OTLP SDK when the OTEL_* variables ask for it, the check the
hot paths make (:func:`tracing_on`), log correlation and the providers' httpx spans.

Re-exported by ``tracing.py`` (the spans), which is where callers import them from.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

__all__ = [
    "configure_tracing",
    "install_log_correlation",
    "instrument_http_client",
    "shutdown_tracing",
    "tracing_on",
    "tracing_requested",
]

_lock = threading.Lock()
_provider: Any = None  # the SDK TracerProvider this module installed, if any


_on = False  # an SDK provider was seen: it cannot be replaced, so this stays true
_UNKNOWN = object()
_ENV_PROVIDER = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ  # the API may load one lazily


def _recording() -> bool:
    """True once a real (SDK) tracer provider is installed; False means tracing is off.

    On every request's path, so cheap when off: while no provider is set the API's
    ``get_tracer_provider()`` looks at ``os.environ`` on each call (docs/performance.md
    measured it), so its global is read first (falling back on the public call if the API
    ever renames it).
    """
    global _on
    if _on:
        return True
    if getattr(trace, "_TRACER_PROVIDER", _UNKNOWN) is None and not _ENV_PROVIDER:
        return False
    _on = not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )
    return _on


#: Public name of the check, for hot paths that skip a span's set-up once per batch.
tracing_on = _recording


def instrument_http_client(client: Any) -> bool:
    """CLIENT spans for every request of an ``httpx`` client (the providers' calls).

    OpenTelemetry's httpx instrumentation, with the stable HTTP semantic conventions
    (``http.request.method``, ``url.full``, ``http.response.status_code``...) unless
    ``OTEL_SEMCONV_STABILITY_OPT_IN`` says otherwise; it also sends ``traceparent`` to the
    provider. Does nothing (and returns False) while no tracer provider is installed.
    """
    if not _recording():
        return False
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client)
    return True


# -- log correlation ----------------------------------------------------------------------
_factory_installed = False


def install_log_correlation() -> None:
    """Every log record made while a span is current carries ``trace_id`` / ``span_id``.

    Done with a record factory, so that every handler and formatter sees them (Herald's
    JSON and text formatters print every extra attribute). Idempotent.
    """
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            ctx = trace.get_current_span().get_span_context()
            if ctx.is_valid:
                record.trace_id = format(ctx.trace_id, "032x")
                record.span_id = format(ctx.span_id, "016x")
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


# -- configuration ------------------------------------------------------------------------
def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """True when the standard OTEL_* variables ask for traces to be exported."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() in {"none", ""}:
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure_tracing(service_name: str = "herald") -> bool:
    """Install the SDK with an OTLP/HTTP exporter when requested; else leave the no-op API.

    ``service_name`` is used unless ``OTEL_SERVICE_NAME`` (or ``service.name`` in
    ``OTEL_RESOURCE_ATTRIBUTES``) says otherwise. Log correlation is installed either way.
    Returns True when spans are exported. Idempotent.
    """
    global _provider
    install_log_correlation()
    if not tracing_requested():
        return False
    with _lock:
        if _provider is not None:
            return True
        # Imported here: processes that do not trace never load the SDK's exporter.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # The SDK reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; its own default name
        # ("unknown_service:python") gives way to Herald's.
        named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
            "OTEL_RESOURCE_ATTRIBUTES", ""
        )
        resource = Resource.create({} if named else {SERVICE_NAME: service_name})
        provider = TracerProvider(resource=resource)  # sampler from OTEL_TRACES_SAMPLER
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        _provider = provider
    return True


def shutdown_tracing() -> None:
    """Export what is buffered and stop (the SDK also does it at interpreter exit)."""
    global _provider
    with _lock:
        provider, _provider = _provider, None
    if provider is not None:
        provider.shutdown()
