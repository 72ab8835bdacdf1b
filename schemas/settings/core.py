"""The worker itself: identity, web server, request limits, idempotency, secrets."""

from __future__ import annotations

from pydantic import Field, SecretStr

from schemas.settings._env import Section, env

__all__ = ["CoreSettings"]


class CoreSettings(Section):
    """The worker itself: identity, web server, request limits, idempotency, secrets."""

    app_id: str = Field(
        "herald",
        validation_alias=env("HERALD_APP_ID"),
        description="Faust app id; the router's consumer group. Other roles append '-<role>'.",
    )
    web_host: str = Field(
        "0.0.0.0",
        validation_alias=env("HERALD_WEB_HOST"),
        description="Address the worker's web server binds (health, webhooks).",
    )
    web_port: int = Field(
        6066,
        validation_alias=env("HERALD_WEB_PORT"),
        description="Port of the worker's web server.",
    )
    public_url: str | None = Field(
        None,
        validation_alias=env("HERALD_PUBLIC_URL"),
        description="Public base URL of the web server, for providers that call back (e.g. status callbacks).",
    )
    max_in_flight: int = Field(
        256,
        ge=1,
        validation_alias=env("HERALD_MAX_IN_FLIGHT"),
        description="Requests a worker processes at once (overlapping provider calls); the consumer waits beyond it.",
    )
    max_request_bytes: int = Field(
        1_048_576,
        ge=1024,
        validation_alias=env("HERALD_MAX_REQUEST_BYTES"),
        description="Larger request values go to the dead-letter topic (reason too_large).",
    )
    webhook_max_body_bytes: int = Field(
        262_144,
        ge=1024,
        validation_alias=env("HERALD_WEBHOOK_MAX_BODY_BYTES"),
        description="Larger webhook bodies are refused with 413.",
    )
    idempotency_ttl_seconds: int = Field(
        7 * 24 * 3600,
        ge=60,
        validation_alias=env("HERALD_IDEMPOTENCY_TTL_SECONDS"),
        description="How long a (tenantId, id) is remembered: a duplicate within this window is ignored.",
    )
    correlation_ttl_seconds: int = Field(
        30 * 24 * 3600,
        ge=60,
        validation_alias=env("HERALD_CORRELATION_TTL_SECONDS"),
        description="How long provider message ids map back to notifications (late delivery reports).",
    )
    integration_cache_seconds: float = Field(
        5.0,
        ge=0,
        validation_alias=env("HERALD_INTEGRATION_CACHE_SECONDS"),
        description="How long a worker caches a tenant's integrations (a change reaches running workers within it; 0 disables).",
    )
    secret_key: SecretStr | None = Field(
        None,
        validation_alias=env("HERALD_SECRET_KEY"),
        description="32 random bytes, URL-safe base64 (`herald keygen`): encrypts stored credentials (AES-GCM). Required to store or use credentials.",
    )
    previous_secret_keys: SecretStr | None = Field(
        None,
        validation_alias=env("HERALD_PREVIOUS_SECRET_KEYS"),
        description="Comma-separated older keys, still accepted for decryption while rotating.",
    )
