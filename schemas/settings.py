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
        description="Redis URL (state, idempotency, integrations, lookups): one server, redis://host:6379/0, or the seed nodes of a Redis Cluster, comma-separated: redis://[:password@]h1:6379,h2:6379,h3:6379 (database 0 only). Every script and transaction touches one hash slot.",
    )
    redis_cluster: bool | None = Field(
        None,
        validation_alias=_env("HERALD_REDIS_CLUSTER"),
        description="Use the Redis Cluster client. Unset: when REDIS_URL lists several nodes; true: also for one seed node (a managed cluster's configuration endpoint).",
    )
    database_url: str = Field(
        "sqlite+aiosqlite:///./herald-inbox.db",
        validation_alias=_env("DATABASE_URL"),
        description="The in-app inbox's database (SQLAlchemy URL): postgresql+asyncpg://user:pass@host/db in production; the default is an embedded SQLite file in the working directory.",
    )
    db_auto_migrate: bool | None = Field(
        None,
        validation_alias=_env("HERALD_DB_AUTO_MIGRATE"),
        description="Apply the inbox migrations when a worker starts. Unset: yes for SQLite, no for other databases (run `herald db upgrade` when deploying).",
    )
    db_pool_size: int = Field(
        5,
        ge=1,
        validation_alias=_env("HERALD_DB_POOL_SIZE"),
        description="Connections a worker keeps to the inbox database (PostgreSQL; as many again may open under load).",
    )

    redis_max_connections: int = Field(
        64,
        ge=1,
        validation_alias=_env("HERALD_REDIS_MAX_CONNECTIONS"),
        description="Redis connections per worker (per node on a cluster); more concurrent commands wait for a free one.",
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
        5,
        ge=1,
        validation_alias=_env("HERALD_SEND_MAX_ATTEMPTS"),
        description="Attempts per notification for retryable provider errors before it fails.",
    )
    retry_base_delay_seconds: float = Field(
        2.0,
        ge=0,
        validation_alias=_env("HERALD_RETRY_BASE_DELAY_SECONDS"),
        description="Delay before the first retry; multiplied by the factor per attempt, with jitter.",
    )
    retry_factor: float = Field(
        4.0,
        ge=1,
        validation_alias=_env("HERALD_RETRY_FACTOR"),
        description="Backoff factor between attempts.",
    )
    retry_max_delay_seconds: float = Field(
        300.0,
        ge=0,
        validation_alias=_env("HERALD_RETRY_MAX_DELAY_SECONDS"),
        description="Cap of a retry delay (also caps a provider's Retry-After).",
    )
    retry_tiers: str = Field(
        "5,30,300",
        validation_alias=_env("HERALD_RETRY_TIERS"),
        description="Delay topics, in seconds (comma-separated): a retry waits on the smallest tier at least as long as its delay, on topic <HERALD_TOPIC_RETRY_PREFIX><tier>s.",
    )
    retry_policies: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        validation_alias=_env("HERALD_RETRY_POLICIES"),
        description='Per-provider overrides as JSON, e.g. {"twilio": {"maxAttempts": 8, "baseDelay": 1, "factor": 2, "maxDelay": 600}}.',
    )
    rate_limits: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        validation_alias=_env("HERALD_RATE_LIMITS"),
        description='Token bucket per tenant and provider, as JSON: {"whatsapp-business": {"perSecond": 20, "burst": 40}}. Default: the provider\'s documented rate.',
    )
    bulkhead_limit: int = Field(
        32,
        ge=1,
        validation_alias=_env("HERALD_BULKHEAD_LIMIT"),
        description="Provider calls in flight per tenant and provider; more wait on a delay topic, so one slow provider cannot take every slot.",
    )
    max_inline_wait_seconds: float = Field(
        1.0,
        ge=0,
        validation_alias=_env("HERALD_MAX_INLINE_WAIT_SECONDS"),
        description="Longer rate-limit waits are spent on a delay topic instead of holding an in-flight slot.",
    )
    integration_cache_seconds: float = Field(
        5.0,
        ge=0,
        validation_alias=_env("HERALD_INTEGRATION_CACHE_SECONDS"),
        description="How long a worker caches a tenant's integrations (a change reaches running workers within it; 0 disables).",
    )
    unknown_outcome: Literal["fail", "resend"] = Field(
        "fail",
        validation_alias=_env("HERALD_UNKNOWN_OUTCOME"),
        description="After a crash during a provider call: fail the notification with outcome_unknown (never a duplicate) or send again (never a loss).",
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
    topic_retry_prefix: str = Field(
        "notifications.retry.",
        validation_alias=_env("HERALD_TOPIC_RETRY_PREFIX"),
        description="Internal: prefix of the delay topics (one per retry tier).",
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
    # WhatsApp Web (WPPConnect) -- the seed's WHATSAPP_WPPCONNECT_* variables, then Herald's.
    wppconnect_enabled: bool = Field(
        False,
        validation_alias=_env("WHATSAPP_WPPCONNECT_ENABLED"),
        description="Enable the wppconnect provider: while false the router rejects wppconnect requests (provider_inactive) and `herald worker whatsapp` refuses to start.",
    )
    wppconnect_session_name: str = Field(
        "notification-service",
        validation_alias=_env("WHATSAPP_WPPCONNECT_SESSION_NAME"),
        description="Default sessionName label of wppconnect integrations (browser sessions are always named tenant-{tenantId}).",
    )
    wppconnect_auto_close_ms: int = Field(
        60000,
        ge=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_AUTO_CLOSE"),
        description="ms a session waits for its QR code to be scanned before it closes (autocloseCalled); 0 waits forever. Credentials' autoClose overrides it.",
    )
    wppconnect_qr_timeout_ms: int = Field(
        60000,
        ge=1000,
        validation_alias=_env("WHATSAPP_WPPCONNECT_QR_TIMEOUT"),
        description="ms a QR code stays readable (Redis TTL of wppconnect:qr:{tenantId}, expiresAt). Credentials' qrTimeout overrides it.",
    )
    wppconnect_use_chrome: bool = Field(
        True,
        validation_alias=_env("WHATSAPP_WPPCONNECT_USE_CHROME"),
        description="Run the installed Chromium/Chrome (WHATSAPP_WPPCONNECT_CHROMIUM_PATH) instead of a Playwright-downloaded browser.",
    )
    wppconnect_disable_welcome: bool = Field(
        True,
        validation_alias=_env("WHATSAPP_WPPCONNECT_DISABLE_WELCOME"),
        description="Do not log WPPConnect's welcome banner when a session starts.",
    )
    wppconnect_token_store: Literal["file", "redis"] = Field(
        "file",
        validation_alias=_env("WHATSAPP_WPPCONNECT_TOKEN_STORE"),
        description="Where sessions keep their login: file = a browser profile directory per tenant under WHATSAPP_WPPCONNECT_TOKEN_FOLDER; redis = that profile also archived (compressed, AES-GCM under HERALD_SECRET_KEY) in Redis, so any worker restores it without a new QR scan.",
    )
    wppconnect_token_folder: str = Field(
        "./tokens/wppconnect",
        validation_alias=_env("WHATSAPP_WPPCONNECT_TOKEN_FOLDER"),
        description="Folder of the per-tenant browser profiles (tenant-{id}, mode 0700); relative to the worker's working directory.",
    )
    wppconnect_chromium_path: str | None = Field(
        None,
        validation_alias=_env("WHATSAPP_WPPCONNECT_CHROMIUM_PATH"),
        description="Chromium executable; unset: /usr/bin/chromium, else chromium-browser, google-chrome on PATH.",
    )
    wppconnect_wajs_path: str | None = Field(
        None,
        validation_alias=_env("WHATSAPP_WPPCONNECT_WAJS_PATH"),
        description="The @wppconnect/wa-js bundle injected into WhatsApp Web; unset: vendor/wa-js/dist/wppconnect-wa.js of the checkout (installed by scripts/bootstrap.sh).",
    )
    wppconnect_headless: bool = Field(
        True,
        validation_alias=_env("WHATSAPP_WPPCONNECT_HEADLESS"),
        description="Run Chromium headless (false needs a display).",
    )
    wppconnect_takeover_on_conflict: bool = Field(
        False,
        validation_alias=_env("WHATSAPP_WPPCONNECT_TAKEOVER_ON_CONFLICT"),
        description="On CONFLICT (WhatsApp Web opened elsewhere) take the session back; false only reports it.",
    )
    wppconnect_sync_timeout_ms: int = Field(
        180000,
        ge=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_SYNC_TIMEOUT"),
        description="ms a logged-in session may take to reach the chats (inChat) before it reports phoneNotConnected and closes; 0 waits forever.",
    )
    wppconnect_call_timeout_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_CALL_TIMEOUT_SECONDS"),
        description="Timeout of one call into WhatsApp Web (a send, a contact check) and of page loads.",
    )
    wppconnect_reconnect_max_delay_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_RECONNECT_MAX_DELAY_SECONDS"),
        description="Cap of the backoff between reconnections of a session whose connection state is TIMEOUT.",
    )
    wppconnect_qr_reads_per_minute: float = Field(
        30.0,
        gt=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_QR_READS_PER_MINUTE"),
        description="GET /webhooks/wppconnect/qr/{tenantId} per tenant per minute (burst 5); beyond it 429 with Retry-After.",
    )
    # Sessions across workers (docs/whatsapp-sessions.md); durations in ms like the seed's.
    wppconnect_lease_ttl_ms: int = Field(
        30000,
        ge=1000,
        validation_alias=_env("WHATSAPP_WPPCONNECT_LEASE_TTL"),
        description="ms a worker's ownership lease of a session lasts without renewal (renewed every third of it); after a crash the next owner waits at most this long.",
    )
    wppconnect_snapshot_interval_ms: int = Field(
        600000,
        ge=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_SNAPSHOT_INTERVAL"),
        description="ms between archives of a running session's profile to the redis token store (also archived after login and at every close); 0: only then.",
    )
    wppconnect_watchdog_interval_ms: int = Field(
        15000,
        ge=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_WATCHDOG_INTERVAL"),
        description="ms between a session watchdog's checks of its page (alive, answering, connection state); a dead page reopens the session; 0 disables the checks (crash events still reopen it).",
    )
    wppconnect_max_restarts: int = Field(
        5,
        ge=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_MAX_RESTARTS"),
        description="Failed reopenings in a row (crashed page, lost browser) after which a session is given up (sessionFailed) and its waiting messages fail as retryable.",
    )
    wppconnect_idle_timeout_ms: int = Field(
        1800000,
        ge=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_IDLE_TIMEOUT"),
        description="ms without a message after which a session is archived and its browser closed (reopened by the next message); 0 keeps sessions open.",
    )
    wppconnect_max_sessions: int = Field(
        25,
        ge=1,
        validation_alias=_env("WHATSAPP_WPPCONNECT_MAX_SESSIONS"),
        description="Browser sessions one worker runs at once; beyond it a new session is refused (retryable session_limit, state sessionRefused).",
    )
    wppconnect_send_rate: float = Field(
        20.0,
        ge=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_SEND_RATE"),
        description="Messages per minute one session sends at most (anti-ban pacing; other tenants are not held up); 0 disables pacing.",
    )
    wppconnect_send_jitter_ms: int = Field(
        2000,
        ge=0,
        validation_alias=_env("WHATSAPP_WPPCONNECT_SEND_JITTER"),
        description="Up to this many ms, at random, added to each paced gap between a session's messages.",
    )
    whatsapp_web_url: str = Field(
        "https://web.whatsapp.com",
        validation_alias=_env("WHATSAPP_WEB_URL"),
        description="WhatsApp Web's URL; point it at `herald sandbox whatsapp-web` for tests and the demo.",
    )
    fcm_api_url: str = Field(
        "https://fcm.googleapis.com",
        validation_alias=_env("FCM_API_URL"),
        description="Firebase Cloud Messaging HTTP v1 base URL (messages go to /v1/projects/{project}/messages:send).",
    )
    fcm_token_url: str | None = Field(
        None,
        validation_alias=_env("FCM_TOKEN_URL"),
        description="OAuth 2.0 token endpoint for FCM service accounts; unset: each service account's token_uri.",
    )
    apns_api_url: str | None = Field(
        None,
        validation_alias=_env("APNS_API_URL"),
        description="APNs base URL for every apn integration; unset: https://api.push.apple.com (production) or https://api.sandbox.push.apple.com.",
    )
    sendgrid_api_url: str = Field(
        "https://api.sendgrid.com",
        validation_alias=_env("SENDGRID_API_URL"),
        description="SendGrid v3 API base URL (mail goes to /v3/mail/send); https://api.eu.sendgrid.com for EU subusers.",
    )
    ses_endpoint_url: str = Field(
        "https://email.{region}.amazonaws.com",
        validation_alias=_env("SES_ENDPOINT_URL"),
        description="Amazon SES API v2 endpoint; {region} is replaced by the integration's region.",
    )
    mailgun_api_url: str = Field(
        "https://api.mailgun.net",
        validation_alias=_env("MAILGUN_API_URL"),
        description="Mailgun API base URL for domains in the US region (region 'us').",
    )
    mailgun_eu_api_url: str = Field(
        "https://api.eu.mailgun.net",
        validation_alias=_env("MAILGUN_EU_API_URL"),
        description="Mailgun API base URL for domains in the EU region (region 'eu').",
    )
    mailgun_webhook_max_age_seconds: int = Field(
        900,
        ge=10,
        validation_alias=_env("MAILGUN_WEBHOOK_MAX_AGE_SECONDS"),
        description="Mailgun webhooks signed longer ago are refused; their tokens are remembered this long to refuse replays.",
    )
    twilio_api_url: str = Field(
        "https://api.twilio.com",
        validation_alias=_env("TWILIO_API_URL"),
        description="Twilio REST API base URL (messages go to /2010-04-01/Accounts/{AccountSid}/Messages.json).",
    )
    sns_endpoint_url: str = Field(
        "https://sns.{region}.amazonaws.com",
        validation_alias=_env("SNS_ENDPOINT_URL"),
        description="Amazon SNS query API endpoint; {region} is replaced by the integration's region.",
    )

    # --- Logging --------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warn", "warning", "error"] = Field(
        "info",
        validation_alias=_env("LOG_LEVEL"),
        description="debug, info, warn (or warning), error. Use warn in production.",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None,
        validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector base URL (e.g. http://collector:4318): metrics are also pushed there (/v1/metrics); unset: only GET /metrics (Prometheus).",
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
            *self.retry_topics.values(),
        ]

    @property
    def retry_tier_seconds(self) -> list[float]:
        return sorted(float(t) for t in self.retry_tiers.split(",") if t.strip())

    @property
    def retry_topics(self) -> dict[float, str]:
        """Tier (seconds) -> delay topic name."""
        return {t: f"{self.topic_retry_prefix}{t:g}s" for t in self.retry_tier_seconds}
