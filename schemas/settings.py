"""Herald's configuration: one pydantic-settings model, read from the environment and ``.env``.

Every field names its environment variable explicitly (``validation_alias``); every
variable is listed, with its default, in ``env.example``. A test keeps the two in step.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
    )

    # --- Infrastructure -------------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(
        "localhost:9092",
        validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS"),
        description="Comma-separated Kafka bootstrap servers (host:port).",
    )
    redis_url: str = Field(
        "redis://localhost:6379/0",
        validation_alias=_env("REDIS_URL"),
        description="Redis URL (state, idempotency, integrations, lookups). A single primary: Herald's Lua scripts touch several keys.",
    )

    # --- Worker ---------------------------------------------------------------------------
    app_id: str = Field(
        "herald",
        validation_alias=_env("HERALD_APP_ID"),
        description="Faust app id; the router's consumer group. Other roles append '-<role>'.",
    )
    web_host: str = Field(
        "0.0.0.0",
        validation_alias=_env("HERALD_WEB_HOST"),
        description="Address the worker's web server binds (health, webhooks).",
    )
    web_port: int = Field(
        6066,
        validation_alias=_env("HERALD_WEB_PORT"),
        description="Port of the worker's web server.",
    )
    public_url: str | None = Field(
        None,
        validation_alias=_env("HERALD_PUBLIC_URL"),
        description="Public base URL of the web server, for providers that call back (e.g. status callbacks).",
    )
    max_in_flight: int = Field(
        256,
        ge=1,
        validation_alias=_env("HERALD_MAX_IN_FLIGHT"),
        description="Requests a worker processes at once (overlapping provider calls); the consumer waits beyond it.",
    )
    max_request_bytes: int = Field(
        1_048_576,
        ge=1024,
        validation_alias=_env("HERALD_MAX_REQUEST_BYTES"),
        description="Larger request values go to the dead-letter topic (reason too_large).",
    )
    webhook_max_body_bytes: int = Field(
        262_144,
        ge=1024,
        validation_alias=_env("HERALD_WEBHOOK_MAX_BODY_BYTES"),
        description="Larger webhook bodies are refused with 413.",
    )
    idempotency_ttl_seconds: int = Field(
        7 * 24 * 3600,
        ge=60,
        validation_alias=_env("HERALD_IDEMPOTENCY_TTL_SECONDS"),
        description="How long a (tenantId, id) is remembered: a duplicate within this window is ignored.",
    )
    correlation_ttl_seconds: int = Field(
        30 * 24 * 3600,
        ge=60,
        validation_alias=_env("HERALD_CORRELATION_TTL_SECONDS"),
        description="How long provider message ids map back to notifications (late delivery reports).",
    )
    provider_timeout_seconds: float = Field(
        10.0,
        gt=0,
        validation_alias=_env("HERALD_PROVIDER_TIMEOUT_SECONDS"),
        description="Timeout of one provider HTTP call.",
    )
    send_max_attempts: int = Field(
        3,
        ge=1,
        validation_alias=_env("HERALD_SEND_MAX_ATTEMPTS"),
        description="Attempts per notification for retryable provider errors before it fails.",
    )
    retry_base_delay_seconds: float = Field(
        0.5,
        ge=0,
        validation_alias=_env("HERALD_RETRY_BASE_DELAY_SECONDS"),
        description="First retry delay; doubles per attempt, with jitter.",
    )
    retry_max_delay_seconds: float = Field(
        10.0,
        ge=0,
        validation_alias=_env("HERALD_RETRY_MAX_DELAY_SECONDS"),
        description="Cap of a retry delay (also caps a provider's Retry-After).",
    )

    # --- Kafka topics ---------------------------------------------------------------------
    topic_requests: str = Field(
        "notifications.requests",
        validation_alias=_env("HERALD_TOPIC_REQUESTS"),
        description="Input: notification requests.",
    )
    topic_status: str = Field(
        "notifications.status",
        validation_alias=_env("HERALD_TOPIC_STATUS"),
        description="Output: status events.",
    )
    topic_dlq: str = Field(
        "notifications.dlq",
        validation_alias=_env("HERALD_TOPIC_DLQ"),
        description="Output: undecodable input, byte for byte, with herald-dlq-* headers.",
    )
    topic_whatsapp_qr: str = Field(
        "whatsapp.qr",
        validation_alias=_env("HERALD_TOPIC_WHATSAPP_QR"),
        description="Output: WhatsApp Web QR codes (reserved).",
    )
    topic_whatsapp_state: str = Field(
        "whatsapp.state",
        validation_alias=_env("HERALD_TOPIC_WHATSAPP_STATE"),
        description="Output: WhatsApp Web session states (reserved).",
    )
    topic_whatsapp_inbound: str = Field(
        "whatsapp.inbound",
        validation_alias=_env("HERALD_TOPIC_WHATSAPP_INBOUND"),
        description="Output: incoming WhatsApp Web messages (reserved).",
    )
    topic_whatsapp_commands: str = Field(
        "whatsapp.commands",
        validation_alias=_env("HERALD_TOPIC_WHATSAPP_COMMANDS"),
        description="Input: WhatsApp Web session commands (reserved).",
    )
    topic_whatsapp_dispatch: str = Field(
        "whatsapp.dispatch",
        validation_alias=_env("HERALD_TOPIC_WHATSAPP_DISPATCH"),
        description="Internal: requests the router hands to the WhatsApp Web session workers, keyed by tenant.",
    )
    topic_partitions: int = Field(
        8,
        ge=1,
        validation_alias=_env("HERALD_TOPIC_PARTITIONS"),
        description="Partitions of the topics Herald creates at start.",
    )
    topic_replication_factor: int = Field(
        1,
        ge=1,
        validation_alias=_env("HERALD_TOPIC_REPLICATION_FACTOR"),
        description="Replication factor of the topics Herald creates.",
    )

    # --- Kafka consumer group timing (seconds) -------------------------------------------
    broker_rebalance_timeout: float = Field(
        60.0,
        gt=0,
        validation_alias=_env("HERALD_BROKER_REBALANCE_TIMEOUT"),
        description="Consumer-group rebalance timeout, seconds (a few seconds in dev and tests).",
    )
    broker_session_timeout: float = Field(
        60.0,
        gt=0,
        validation_alias=_env("HERALD_BROKER_SESSION_TIMEOUT"),
        description="Consumer-group session timeout, seconds.",
    )
    broker_heartbeat_interval: float = Field(
        3.0,
        gt=0,
        validation_alias=_env("HERALD_BROKER_HEARTBEAT_INTERVAL"),
        description="Consumer-group heartbeat interval, seconds.",
    )

    # --- Security -------------------------------------------------------------------------
    secret_key: SecretStr | None = Field(
        None,
        validation_alias=_env("HERALD_SECRET_KEY"),
        description="32 random bytes, URL-safe base64 (`herald keygen`): encrypts stored credentials (AES-GCM). Required to store or use credentials.",
    )
    previous_secret_keys: SecretStr | None = Field(
        None,
        validation_alias=_env("HERALD_PREVIOUS_SECRET_KEYS"),
        description="Comma-separated older keys, still accepted for decryption while rotating.",
    )

    # --- Providers ------------------------------------------------------------------------
    whatsapp_business_api_url: str = Field(
        "https://graph.facebook.com/v23.0",
        validation_alias=_env("WHATSAPP_BUSINESS_API_URL"),
        description="Graph API base URL including the pinned version.",
    )

    # --- Logging --------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warn", "warning", "error"] = Field(
        "info",
        validation_alias=_env("LOG_LEVEL"),
        description="debug, info, warn (or warning), error. Use warn in production.",
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        validation_alias=_env("LOG_FORMAT"),
        description="json (one object per line) or text.",
    )

    @property
    def all_topics(self) -> list[str]:
        return [
            self.topic_requests,
            self.topic_status,
            self.topic_dlq,
            self.topic_whatsapp_qr,
            self.topic_whatsapp_state,
            self.topic_whatsapp_inbound,
            self.topic_whatsapp_commands,
            self.topic_whatsapp_dispatch,
        ]
