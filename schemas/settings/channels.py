"""The channels' settings, a class per channel: the services' endpoints and webhook checks,
and WhatsApp Web sessions (WPPConnect)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.settings._env import Section, env

__all__ = [
    "EmailSettings",
    "PushSettings",
    "SmsSettings",
    "WhatsAppBusinessSettings",
    "WhatsAppWebSettings",
]


class WhatsAppBusinessSettings(Section):
    """Channel ``whatsapp``: the WhatsApp Business Cloud API."""

    whatsapp_business_api_url: str = Field(
        "https://graph.facebook.com/v23.0",
        validation_alias=env("WHATSAPP_BUSINESS_API_URL"),
        description="Graph API base URL including the pinned version.",
    )
    whatsapp_business_webhook_max_phone_ids: int = Field(
        10,
        ge=1,
        validation_alias=env("WHATSAPP_BUSINESS_WEBHOOK_MAX_PHONE_IDS"),
        description="Distinct phone number ids a WhatsApp Business webhook may name (Meta sends a handful); more is refused (401) before any lookup.",
    )


class WhatsAppWebSettings(Section):
    """Channel ``whatsapp`` through WhatsApp Web sessions (WPPConnect): the seed's"""

    wppconnect_enabled: bool = Field(
        False,
        validation_alias=env("WHATSAPP_WPPCONNECT_ENABLED"),
        description="Enable the wppconnect provider: while false the router rejects wppconnect requests (provider_inactive) and `herald worker whatsapp` refuses to start.",
    )
    wppconnect_session_name: str = Field(
        "notification-service",
        validation_alias=env("WHATSAPP_WPPCONNECT_SESSION_NAME"),
        description=(
            "Fallback sessionName label of a session opened without integration credentials; "
            "the integrations' own sessionName (tenant's or system's) names their sessions."
        ),
    )
    wppconnect_auto_close_ms: int = Field(
        60000,
        ge=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_AUTO_CLOSE"),
        description="ms a session waits for its QR code to be scanned before it closes (autocloseCalled); 0 waits forever. Credentials' autoClose overrides it.",
    )
    wppconnect_qr_timeout_ms: int = Field(
        60000,
        ge=1000,
        validation_alias=env("WHATSAPP_WPPCONNECT_QR_TIMEOUT"),
        description="ms a QR code stays readable (Redis TTL of wppconnect:qr:{tenantId}, expiresAt). Credentials' qrTimeout overrides it.",
    )
    wppconnect_use_chrome: bool = Field(
        True,
        validation_alias=env("WHATSAPP_WPPCONNECT_USE_CHROME"),
        description="Run the installed Chromium/Chrome (WHATSAPP_WPPCONNECT_CHROMIUM_PATH) instead of a Playwright-downloaded browser.",
    )
    wppconnect_disable_welcome: bool = Field(
        True,
        validation_alias=env("WHATSAPP_WPPCONNECT_DISABLE_WELCOME"),
        description="Do not log WPPConnect's welcome banner when a session starts.",
    )
    wppconnect_token_store: Literal["file", "redis"] = Field(
        "file",
        validation_alias=env("WHATSAPP_WPPCONNECT_TOKEN_STORE"),
        description="Where sessions keep their login, encrypted at rest either way (the profile archived, compressed, AES-GCM under HERALD_SECRET_KEY; the plaintext profile exists only while the session may run): file = in WHATSAPP_WPPCONNECT_TOKEN_FOLDER/.sealed on this machine; redis = in Redis, so any worker restores it without a new QR scan.",
    )
    wppconnect_token_folder: str = Field(
        "./tokens/wppconnect",
        validation_alias=env("WHATSAPP_WPPCONNECT_TOKEN_FOLDER"),
        description="Folder of the running sessions' browser profiles (tenant-{id}, mode 0700) and of the file store's sealed archives (.sealed/); relative to the worker's working directory.",
    )
    wppconnect_chromium_path: str | None = Field(
        None,
        validation_alias=env("WHATSAPP_WPPCONNECT_CHROMIUM_PATH"),
        description="Chromium executable; unset: /usr/bin/chromium, else chromium-browser, google-chrome on PATH.",
    )
    wppconnect_wajs_path: str | None = Field(
        None,
        validation_alias=env("WHATSAPP_WPPCONNECT_WAJS_PATH"),
        description="The @wppconnect/wa-js bundle injected into WhatsApp Web; unset: vendor/wa-js/<version>/ of a checkout, else the cache that `herald whatsapp install` fills (WHATSAPP_CACHE_DIR).",
    )
    wppconnect_headless: bool = Field(
        True,
        validation_alias=env("WHATSAPP_WPPCONNECT_HEADLESS"),
        description="Run Chromium headless (false needs a display).",
    )
    wppconnect_takeover_on_conflict: bool = Field(
        False,
        validation_alias=env("WHATSAPP_WPPCONNECT_TAKEOVER_ON_CONFLICT"),
        description="On CONFLICT (WhatsApp Web opened elsewhere) take the session back; false only reports it.",
    )
    wppconnect_conflict_timeout_ms: int = Field(
        30000,
        ge=1,
        validation_alias=env("WHATSAPP_WPPCONNECT_CONFLICT_TIMEOUT"),
        description="ms a session may stay in CONFLICT (WhatsApp Web open elsewhere) before the messages waiting for it fail as retryable session_conflict; the session stays open and reports CONFLICT.",
    )
    wppconnect_max_reconnects: int = Field(
        5,
        ge=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_MAX_RECONNECTS"),
        description="Page reloads after a TIMEOUT connection state, in a row without reaching CONNECTED, before the session is given up (sessionFailed) and its waiting messages fail as retryable session_failed.",
    )
    wppconnect_sync_timeout_ms: int = Field(
        180000,
        ge=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_SYNC_TIMEOUT"),
        description="ms a logged-in session may take to reach the chats (inChat) before it reports phoneNotConnected and closes; 0 waits forever.",
    )
    wppconnect_call_timeout_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_CALL_TIMEOUT_SECONDS"),
        description="Timeout of one call into WhatsApp Web (a send, a contact check) and of page loads.",
    )
    wppconnect_reconnect_max_delay_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_RECONNECT_MAX_DELAY_SECONDS"),
        description="Cap of the backoff between reconnections of a session whose connection state is TIMEOUT.",
    )
    wppconnect_qr_reads_per_minute: float = Field(
        30.0,
        gt=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_QR_READS_PER_MINUTE"),
        description="GET /webhooks/wppconnect/qr/{tenantId} per tenant per minute (burst 5); beyond it 429 with Retry-After.",
    )
    # The session console and its event stream (docs/whatsapp-web.md#the-session-console).
    wppconnect_events_max_streams: int = Field(
        10,
        ge=1,
        validation_alias=env("WHATSAPP_WPPCONNECT_EVENTS_MAX_STREAMS"),
        description="Open GET /webhooks/wppconnect/session/{tenantId}/events streams per tenant, across all workers; one more is 429.",
    )
    wppconnect_events_heartbeat_seconds: float = Field(
        15.0,
        gt=0,
        le=300,
        validation_alias=env("WHATSAPP_WPPCONNECT_EVENTS_HEARTBEAT_SECONDS"),
        description="Seconds between keep-alive comments on an idle event stream (below proxies' idle timeouts).",
    )
    wppconnect_console_enabled: bool = Field(
        True,
        validation_alias=env("WHATSAPP_WPPCONNECT_CONSOLE_ENABLED"),
        description="Serve the session console page at /console/whatsapp on the WhatsApp worker.",
    )
    # Sessions across workers (docs/whatsapp-sessions.md); durations in ms like the seed's.
    wppconnect_lease_ttl_ms: int = Field(
        30000,
        ge=1000,
        validation_alias=env("WHATSAPP_WPPCONNECT_LEASE_TTL"),
        description="ms a worker's ownership lease of a session lasts without renewal (renewed every third of it); after a crash the next owner waits at most this long.",
    )
    wppconnect_snapshot_interval_ms: int = Field(
        600000,
        ge=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_SNAPSHOT_INTERVAL"),
        description="ms between archives of a running session's profile to the redis token store (also archived after login and at every close); 0: only then.",
    )
    wppconnect_watchdog_interval_ms: int = Field(
        15000,
        ge=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_WATCHDOG_INTERVAL"),
        description="ms between a session watchdog's checks of its page (alive, answering, connection state); a dead page reopens the session; 0 disables the checks (crash events still reopen it).",
    )
    wppconnect_max_restarts: int = Field(
        5,
        ge=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_MAX_RESTARTS"),
        description="Failed reopenings in a row (crashed page, lost browser) after which a session is given up (sessionFailed) and its waiting messages fail as retryable.",
    )
    wppconnect_idle_timeout_ms: int = Field(
        1800000,
        ge=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_IDLE_TIMEOUT"),
        description="ms without a message after which a session is archived and its browser closed (reopened by the next message); 0 keeps sessions open.",
    )
    wppconnect_max_sessions: int = Field(
        25,
        ge=1,
        validation_alias=env("WHATSAPP_WPPCONNECT_MAX_SESSIONS"),
        description="Browser sessions one worker runs at once; beyond it a new session is refused (retryable session_limit, state sessionRefused).",
    )
    wppconnect_send_rate: float = Field(
        20.0,
        ge=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_SEND_RATE"),
        description="Messages per minute one session sends at most (anti-ban pacing; other tenants are not held up); 0 disables pacing.",
    )
    wppconnect_send_jitter_ms: int = Field(
        2000,
        ge=0,
        validation_alias=env("WHATSAPP_WPPCONNECT_SEND_JITTER"),
        description="Up to this many ms, at random, added to each paced gap between a session's messages.",
    )
    whatsapp_web_url: str = Field(
        "https://web.whatsapp.com",
        validation_alias=env("WHATSAPP_WEB_URL"),
        description="WhatsApp Web's URL; point it at `herald sandbox whatsapp-web` for tests and the demo.",
    )
    # Pairing material, browser isolation, fail-closed leases (docs/security.md).
    wppconnect_qr_publish: Literal["full", "reference"] = Field(
        "full",
        validation_alias=env("WHATSAPP_WPPCONNECT_QR_PUBLISH"),
        description="What whatsapp.qr carries: full (the QR image, terminal text and pairing code) or reference (only qrRef and qrUrl; the UI fetches the code from GET /webhooks/wppconnect/qr/{tenantId} with a session-scoped API key). Whoever reads a QR first can link the tenant's number: restrict the topic with Kafka ACLs either way.",
    )
    wppconnect_chromium_sandbox: Literal["auto", "on", "off"] = Field(
        "auto",
        validation_alias=env("WHATSAPP_WPPCONNECT_CHROMIUM_SANDBOX"),
        description="Chromium's sandbox for the WhatsApp Web sessions: auto (on unless the worker runs as root; off with a warning if the platform has no user namespaces), on, or off.",
    )
    wppconnect_bypass_csp: bool = Field(
        False,
        validation_alias=env("WHATSAPP_WPPCONNECT_BYPASS_CSP"),
        description="Bypass WhatsApp Web's Content-Security-Policy. Not needed: wa-js is injected as an init script, which CSP does not govern; the CSP then keeps blocking scripts and third-party requests in the page.",
    )
    wppconnect_lease_max_renew_failures: int = Field(
        2,
        ge=1,
        validation_alias=env("WHATSAPP_WPPCONNECT_LEASE_MAX_RENEW_FAILURES"),
        description="Failed lease renewals in a row (Redis unreachable) after which a session closes instead of staying connected without a confirmed lease (fail closed). Renewals run every third of WHATSAPP_WPPCONNECT_LEASE_TTL.",
    )


class EmailSettings(Section):
    """Channel ``email``: SendGrid, SES and Mailgun endpoints and webhook checks."""

    sendgrid_api_url: str = Field(
        "https://api.sendgrid.com",
        validation_alias=env("SENDGRID_API_URL"),
        description="SendGrid v3 API base URL (mail goes to /v3/mail/send); https://api.eu.sendgrid.com for EU subusers.",
    )
    ses_endpoint_url: str = Field(
        "https://email.{region}.amazonaws.com",
        validation_alias=env("SES_ENDPOINT_URL"),
        description="Amazon SES API v2 endpoint; {region} is replaced by the integration's region.",
    )
    mailgun_api_url: str = Field(
        "https://api.mailgun.net",
        validation_alias=env("MAILGUN_API_URL"),
        description="Mailgun API base URL for domains in the US region (region 'us').",
    )
    mailgun_eu_api_url: str = Field(
        "https://api.eu.mailgun.net",
        validation_alias=env("MAILGUN_EU_API_URL"),
        description="Mailgun API base URL for domains in the EU region (region 'eu').",
    )
    mailgun_webhook_max_age_seconds: int = Field(
        900,
        ge=10,
        validation_alias=env("MAILGUN_WEBHOOK_MAX_AGE_SECONDS"),
        description="Mailgun webhooks signed longer ago are refused; their tokens are remembered this long to refuse replays.",
    )
    sendgrid_webhook_max_age_seconds: int = Field(
        900,
        ge=10,
        validation_alias=env("SENDGRID_WEBHOOK_MAX_AGE_SECONDS"),
        description="SendGrid webhooks signed longer ago (or further in the future than 300 s) are refused; event ids (sg_event_id) are remembered this long to drop replays.",
    )


class SmsSettings(Section):
    """Channel ``sms``: Twilio and SNS endpoints."""

    twilio_api_url: str = Field(
        "https://api.twilio.com",
        validation_alias=env("TWILIO_API_URL"),
        description="Twilio REST API base URL (messages go to /2010-04-01/Accounts/{AccountSid}/Messages.json).",
    )
    sns_endpoint_url: str = Field(
        "https://sns.{region}.amazonaws.com",
        validation_alias=env("SNS_ENDPOINT_URL"),
        description="Amazon SNS query API endpoint; {region} is replaced by the integration's region.",
    )


class PushSettings(Section):
    """Channel ``fcm``: Firebase Cloud Messaging and APNs endpoints."""

    fcm_api_url: str = Field(
        "https://fcm.googleapis.com",
        validation_alias=env("FCM_API_URL"),
        description="Firebase Cloud Messaging HTTP v1 base URL (messages go to /v1/projects/{project}/messages:send).",
    )
    fcm_token_url: str | None = Field(
        None,
        validation_alias=env("FCM_TOKEN_URL"),
        description="OAuth 2.0 token endpoint for FCM service accounts; unset: each service account's token_uri.",
    )
    apns_api_url: str | None = Field(
        None,
        validation_alias=env("APNS_API_URL"),
        description="APNs base URL for every apn integration; unset: https://api.push.apple.com (production) or https://api.sandbox.push.apple.com.",
    )
