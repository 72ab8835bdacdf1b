"""Metrics: what the Prometheus scrape shows (streams/platform/metrics.py)."""

from __future__ import annotations

import re

from streams.platform.metrics import GaugeSource, metrics, prometheus_text


def _value(text: str, name: str, **labels: str) -> float | None:
    """The sample of ``name`` whose labels include ``labels`` (None if absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_counters_histogram_and_gauges_are_scraped() -> None:
    m = metrics()
    before = _value(
        prometheus_text().decode(), "herald_notifications_sent_total", provider="x-test"
    )
    m.sent("x-test")
    m.sent("x-test")
    m.failed("x-test", "provider_timeout")
    m.lifetime.record(42.0)
    text = prometheus_text().decode()
    assert _value(text, "herald_notifications_sent_total", provider="x-test") == (before or 0) + 2
    assert _value(
        text, "herald_notifications_failed_total", provider="x-test", code="provider_timeout"
    )
    assert "# TYPE herald_whatsapp_session_lifetime_seconds histogram" in text
    assert _value(text, "herald_whatsapp_session_lifetime_seconds_bucket", le="60") is not None


def test_gauges_come_from_registered_sources_and_a_broken_one_is_skipped() -> None:
    m = metrics()

    def sessions() -> dict[str, list[tuple[float, dict[str, str]]]]:
        return {
            "sessions_active": [(3.0, {})],
            "queue_depth": [(7.0, {"tenant": "acme-gauge"})],
            "memory": [(123456.0, {"tenant": "acme-gauge"})],
            "token_size": [(4562.0, {"tenant": "acme-gauge"})],
        }

    def broken() -> dict[str, list[tuple[float, dict[str, str]]]]:
        raise RuntimeError("a source that fails")

    sources: list[GaugeSource] = [broken, sessions]
    for source in sources:
        m.add_source(source)
    try:
        text = prometheus_text().decode()
    finally:
        for source in sources:
            m.remove_source(source)
    assert _value(text, "herald_whatsapp_sessions_active") == 3.0
    assert _value(text, "herald_whatsapp_session_queue_depth", tenant="acme-gauge") == 7.0
    assert _value(text, "herald_whatsapp_session_memory_bytes", tenant="acme-gauge") == 123456.0
    assert _value(text, "herald_whatsapp_session_token_size_bytes", tenant="acme-gauge") == 4562.0
    after = prometheus_text().decode()
    assert _value(after, "herald_whatsapp_session_queue_depth", tenant="acme-gauge") is None
