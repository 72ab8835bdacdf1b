"""Logs and metrics export."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.settings._env import Section, env

__all__ = ["ObservabilitySettings"]


class ObservabilitySettings(Section):
    """Logs and metrics export."""

    log_level: Literal["debug", "info", "warn", "warning", "error"] = Field(
        "info",
        validation_alias=env("LOG_LEVEL"),
        description="debug, info, warn (or warning), error. Use warn in production.",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None,
        validation_alias=env("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector base URL (e.g. http://collector:4318): metrics are also pushed there (/v1/metrics); unset: only GET /metrics (Prometheus).",
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        validation_alias=env("LOG_FORMAT"),
        description="json (one object per line) or text.",
    )
