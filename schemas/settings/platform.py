"""The platform's settings, a class per concern: the worker (core), Kafka, Redis, the
inbox database, and observability (logs, metrics export)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from schemas.settings._env import Section, env

__all__ = [
    "CoreSettings",
    "InboxSettings",
    "KafkaSettings",
    "ObservabilitySettings",
    "RedisSettings",
]


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
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop",
        validation_alias=env("HERALD_EVENT_LOOP"),
        description="The workers' event loop: uvloop (libuv; less CPU per request on the hot path) or the standard library's asyncio. Falls back to asyncio where uvloop is not installed (Windows).",
    )
    max_request_bytes: int = Field(
        983_040,
        ge=1024,
        validation_alias=env("HERALD_MAX_REQUEST_BYTES"),
        description="Larger request values go to the dead-letter topic (reason too_large). At most HERALD_KAFKA_MAX_RECORD_BYTES minus 64 KiB, so that every record made from a request (retry envelope, hand-off, re-keyed copy) can be produced.",
    )
    max_metadata_bytes: int = Field(
        16_384,
        ge=256,
        validation_alias=env("HERALD_MAX_METADATA_BYTES"),
        description="Largest `metadata` of a request, as JSON: it is copied into every status event. Larger: rejected (invalid_request).",
    )
    max_json_depth: int = Field(
        32,
        ge=4,
        validation_alias=env("HERALD_MAX_JSON_DEPTH"),
        description="Deepest nesting of objects and arrays accepted in a request. Deeper: rejected (invalid_request).",
    )
    router_batch_max: int = Field(
        500,
        ge=1,
        validation_alias=env("HERALD_ROUTER_BATCH_MAX"),
        description="Most request records the router takes into one batch (one Redis round trip per step, one produce per batch).",
    )
    router_batch_window_ms: float = Field(
        5.0,
        ge=0,
        validation_alias=env("HERALD_ROUTER_BATCH_WINDOW_MS"),
        description="How long a batch waits for more records after its first, in milliseconds (the latency a light load pays for batching).",
    )
    router_token_lease_ms: float = Field(
        100.0,
        ge=0,
        validation_alias=env("HERALD_ROUTER_TOKEN_LEASE_MS"),
        description="When a batch reads a tenant's rate-limit bucket in Redis, it also takes this many milliseconds of the bucket's rate ahead; later batches spend them without a Redis call. Unspent, they are dropped when the lease ends (a worker sends less than the limit then, never more). 0: every batch reads its buckets.",
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
        description="How long a worker keeps a tenant's integrations at most. Changes reach running workers at once (Redis pub/sub); this bounds staleness should a change message be lost (0 disables the cache).",
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
    # Webhook hardening (docs/security.md).
    webhook_max_unauthorized_per_minute: int = Field(
        30,
        ge=1,
        validation_alias=env("HERALD_WEBHOOK_MAX_UNAUTHORIZED_PER_MINUTE"),
        description="Webhook answers of 401/403 a source may earn per minute; beyond it the source gets 429 without lookups or signature checks.",
    )
    webhook_client_ip_header: str | None = Field(
        None,
        validation_alias=env("HERALD_WEBHOOK_CLIENT_IP_HEADER"),
        description="Behind a trusted proxy: the header whose last address is the webhook's source (e.g. X-Forwarded-For); unset: the peer address.",
    )


class KafkaSettings(Section):
    """Kafka: brokers, topic names and partitions, delay (retry) topics, group timing."""

    kafka_bootstrap_servers: str = Field(
        "localhost:9092",
        validation_alias=env("KAFKA_BOOTSTRAP_SERVERS"),
        description="Comma-separated Kafka bootstrap servers (host:port).",
    )
    consumer_fetch_wait_ms: int = Field(
        20,
        ge=0,
        validation_alias=env("HERALD_CONSUMER_FETCH_WAIT_MS"),
        description="The consumer's fetch wait (fetch.max.wait.ms). Kafka answers a fetch as soon as data arrives, so 500 suits it; the embedded broker (tansu) answers an empty fetch only after this wait, so keep it short there (Faust's own value is 1500).",
    )
    kafka_max_record_bytes: int = Field(
        1_048_576,
        ge=65_536 + 1024,
        validation_alias=env("HERALD_KAFKA_MAX_RECORD_BYTES"),
        description="Largest record Herald produces (the producer's max.request.size); the broker and topics must accept it (Kafka's default message.max.bytes is 1048588). A dead letter larger than this is produced truncated, with its headers.",
    )
    retry_tiers: str = Field(
        "5,30,300",
        validation_alias=env("HERALD_RETRY_TIERS"),
        description="Delay topics, in seconds (comma-separated): a retry waits on the smallest tier at least as long as its delay, on topic <HERALD_TOPIC_RETRY_PREFIX><tier>s.",
    )
    topic_requests: str = Field(
        "notifications.requests",
        validation_alias=env("HERALD_TOPIC_REQUESTS"),
        description="Input: notification requests.",
    )
    topic_status: str = Field(
        "notifications.status",
        validation_alias=env("HERALD_TOPIC_STATUS"),
        description="Output: status events.",
    )
    topic_dlq: str = Field(
        "notifications.dlq",
        validation_alias=env("HERALD_TOPIC_DLQ"),
        description="Output: undecodable input, byte for byte, with herald-dlq-* headers.",
    )
    topic_whatsapp_qr: str = Field(
        "whatsapp.qr",
        validation_alias=env("HERALD_TOPIC_WHATSAPP_QR"),
        description="Output: WhatsApp Web QR codes (reserved).",
    )
    topic_whatsapp_state: str = Field(
        "whatsapp.state",
        validation_alias=env("HERALD_TOPIC_WHATSAPP_STATE"),
        description="Output: WhatsApp Web session states (reserved).",
    )
    topic_whatsapp_inbound: str = Field(
        "whatsapp.inbound",
        validation_alias=env("HERALD_TOPIC_WHATSAPP_INBOUND"),
        description="Output: incoming WhatsApp Web messages (reserved).",
    )
    topic_whatsapp_commands: str = Field(
        "whatsapp.commands",
        validation_alias=env("HERALD_TOPIC_WHATSAPP_COMMANDS"),
        description="Input: WhatsApp Web session commands (reserved).",
    )
    topic_whatsapp_dispatch: str = Field(
        "whatsapp.dispatch",
        validation_alias=env("HERALD_TOPIC_WHATSAPP_DISPATCH"),
        description="Internal: requests the router hands to the WhatsApp Web session workers, keyed by tenant.",
    )
    topic_retry_prefix: str = Field(
        "notifications.retry.",
        validation_alias=env("HERALD_TOPIC_RETRY_PREFIX"),
        description="Internal: prefix of the delay topics (one per retry tier).",
    )
    topic_partitions: int = Field(
        8,
        ge=1,
        validation_alias=env("HERALD_TOPIC_PARTITIONS"),
        description="Partitions of the topics Herald creates at start.",
    )
    topic_replication_factor: int = Field(
        1,
        ge=1,
        validation_alias=env("HERALD_TOPIC_REPLICATION_FACTOR"),
        description="Replication factor of the topics Herald creates.",
    )
    broker_rebalance_timeout: float = Field(
        60.0,
        gt=0,
        validation_alias=env("HERALD_BROKER_REBALANCE_TIMEOUT"),
        description="Consumer-group rebalance timeout, seconds (a few seconds in dev and tests).",
    )
    broker_session_timeout: float = Field(
        60.0,
        gt=0,
        validation_alias=env("HERALD_BROKER_SESSION_TIMEOUT"),
        description="Consumer-group session timeout, seconds.",
    )
    broker_heartbeat_interval: float = Field(
        3.0,
        gt=0,
        validation_alias=env("HERALD_BROKER_HEARTBEAT_INTERVAL"),
        description="Consumer-group heartbeat interval, seconds.",
    )

    @field_validator("retry_tiers")
    @classmethod
    def _tiers(cls, value: str) -> str:
        """Positive numbers of seconds, comma-separated, at least one, no repeats."""
        try:
            tiers = [float(t) for t in value.split(",") if t.strip()]
        except ValueError:
            raise ValueError("must be comma-separated numbers of seconds, e.g. 5,30,300") from None
        if not tiers or any(t <= 0 for t in tiers) or len(set(tiers)) != len(tiers):
            raise ValueError("needs at least one tier, each > 0 seconds, none twice")
        return value

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
            *self.retry_topics.values(),
        ]

    @property
    def retry_tier_seconds(self) -> list[float]:
        return sorted(float(t) for t in self.retry_tiers.split(",") if t.strip())

    @property
    def retry_topics(self) -> dict[float, str]:
        """Tier (seconds) -> delay topic name."""
        return {t: f"{self.topic_retry_prefix}{t:g}s" for t in self.retry_tier_seconds}


class RedisSettings(Section):
    """Redis: where state, idempotency records, integrations and lookups live."""

    redis_url: str = Field(
        "redis://localhost:6379/0",
        validation_alias=env("REDIS_URL"),
        description="Redis URL (state, idempotency, integrations, lookups): one server, redis://host:6379/0, or the seed nodes of a Redis Cluster, comma-separated: redis://[:password@]h1:6379,h2:6379,h3:6379 (database 0 only). Every script and transaction touches one hash slot.",
    )
    redis_cluster: bool | None = Field(
        None,
        validation_alias=env("HERALD_REDIS_CLUSTER"),
        description="Use the Redis Cluster client. Unset: when REDIS_URL lists several nodes; true: also for one seed node (a managed cluster's configuration endpoint).",
    )
    redis_max_connections: int = Field(
        64,
        ge=1,
        validation_alias=env("HERALD_REDIS_MAX_CONNECTIONS"),
        description="Redis connections per worker (per node on a cluster); more concurrent commands wait for a free one.",
    )
    # Redis is primary storage: checked at worker start (docs/security.md).
    redis_eviction_check: Literal["refuse", "warn", "off"] = Field(
        "refuse",
        validation_alias=env("HERALD_REDIS_EVICTION_CHECK"),
        description="At worker start, Redis' maxmemory-policy must be noeviction (Redis is Herald's primary storage: an evicted key is a lost integration, API key or lease). refuse: the worker does not start; warn: one warning.",
    )
    redis_persistence_check: Literal["refuse", "warn", "off"] = Field(
        "warn",
        validation_alias=env("HERALD_REDIS_PERSISTENCE_CHECK"),
        description="At worker start, Redis should persist (appendonly yes, or RDB snapshots): warn (default), refuse (the worker does not start) or off.",
    )


class InboxSettings(Section):
    """The in-app inbox database (the ``database`` provider)."""

    database_url: str = Field(
        "sqlite+aiosqlite:///./herald-inbox.db",
        validation_alias=env("DATABASE_URL"),
        description="The in-app inbox's database (SQLAlchemy URL): postgresql+asyncpg://user:pass@host/db in production; the default is an embedded SQLite file in the working directory.",
    )
    db_auto_migrate: bool | None = Field(
        None,
        validation_alias=env("HERALD_DB_AUTO_MIGRATE"),
        description="Apply the inbox migrations when a worker starts. Unset: yes for SQLite, no for other databases (run `herald db upgrade` when deploying).",
    )
    db_pool_size: int = Field(
        5,
        ge=1,
        validation_alias=env("HERALD_DB_POOL_SIZE"),
        description="Connections a worker keeps to the inbox database (PostgreSQL; as many again may open under load).",
    )


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
    # GET /metrics on an admin listener, off the public port (docs/security.md).
    metrics_host: str = Field(
        "127.0.0.1",
        validation_alias=env("HERALD_METRICS_HOST"),
        description="Address of the admin listener serving GET /metrics (not the public web port; it carries tenant labels). Loopback by default; bind wider only behind network policy or with HERALD_METRICS_TOKEN.",
    )
    metrics_port: int = Field(
        9466,
        ge=0,
        le=65535,
        validation_alias=env("HERALD_METRICS_PORT"),
        description="Port of the admin listener serving GET /metrics; 0: no listener (OTLP push only). A port already in use is logged and skipped, the worker runs on.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        validation_alias=env("HERALD_METRICS_TOKEN"),
        description="If set, GET /metrics needs `Authorization: Bearer <token>` (401 otherwise).",
    )
