"""What a session is configured with and whom it tells: options, phases, listener, hooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from schemas.credentials import WPPConnectCredentials
from schemas.settings import Settings
from schemas.whatsapp import ConnectionState, QrCode, SessionStatus, WhatsAppErrorCode
from streams.whatsapp.driver import SessionProxy

if TYPE_CHECKING:
    from streams.whatsapp.session import WhatsAppSession

__all__ = [
    "COMMIT_SECONDS",
    "DISCONNECTED",
    "FINAL_CLOSE_CODES",
    "NOT_AUTHENTICATED",
    "SESSION_BLOCKED",
    "SESSION_CONFLICT",
    "SESSION_FAILED",
    "SESSION_OUTDATED",
    "SESSION_WRONG_NUMBER",
    "LinkCode",
    "SessionHooks",
    "SessionListener",
    "SessionOptions",
    "SessionPhase",
    "options_for",
    "proxy_for",
]

#: The retryable error code of messages whose session could not log in.
NOT_AUTHENTICATED = WhatsAppErrorCode.SESSION_NOT_AUTHENTICATED.value
#: ... and of messages whose session was closed on purpose (disconnect command, shutdown).
DISCONNECTED = WhatsAppErrorCode.SESSION_DISCONNECTED.value
#: ... and of messages whose session was given up after too many failed reopenings.
SESSION_FAILED = WhatsAppErrorCode.SESSION_FAILED.value
#: ... of messages waiting while WhatsApp Web was open elsewhere (CONFLICT) too long.
SESSION_CONFLICT = WhatsAppErrorCode.SESSION_CONFLICT.value
#: ... of messages waiting while WhatsApp blocked the session (TOS_BLOCK, PROXYBLOCK ...).
SESSION_BLOCKED = WhatsAppErrorCode.SESSION_BLOCKED.value
#: ... of messages whose session WhatsApp found too old (DEPRECATED_VERSION, needs_update).
SESSION_OUTDATED = WhatsAppErrorCode.SESSION_OUTDATED.value
#: ... of messages whose session was logged in by another number than its phoneNumberId.
SESSION_WRONG_NUMBER = WhatsAppErrorCode.SESSION_WRONG_NUMBER.value
#: Seconds after which Chromium has committed a localStorage write to disk (it commits
#: about 5 s after a change): a login older than this, in a browser that is still
#: alive, is on disk even when Herald could not keep its own copy (``login.py``).
COMMIT_SECONDS = 6.0
#: Closes that end the wait of every message that arrived before them.
FINAL_CLOSE_CODES = frozenset(
    {
        NOT_AUTHENTICATED,
        DISCONNECTED,
        SESSION_FAILED,
        SESSION_CONFLICT,
        SESSION_BLOCKED,
        SESSION_OUTDATED,
        SESSION_WRONG_NUMBER,
    }
)


class SessionPhase(StrEnum):
    NEW = "new"
    STARTING = "starting"
    PAIRING = "pairing"  # showing QR codes
    SYNCING = "syncing"  # logged in, loading the chats
    READY = "ready"  # inChat: messages can be sent
    RECOVERING = "recovering"  # the page or browser died: reopening it (messages wait)
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """Per-session settings: the tenant's credentials over the global defaults."""

    auto_close_ms: int = 60000
    qr_timeout_ms: int = 60000
    sync_timeout_ms: int = 180000
    disable_welcome: bool = True
    takeover_on_conflict: bool = False
    #: ms in CONFLICT after which the messages waiting for the session fail.
    conflict_timeout_ms: int = 30000
    #: Page reloads after TIMEOUT without reaching CONNECTED before ``sessionFailed``.
    max_reconnects: int = 5
    reconnect_max_delay: float = 60.0
    session_label: str = "notification-service"
    #: The watchdog's period (0: no periodic checks; crash events still reopen the page).
    watchdog_interval_ms: int = 15000
    #: Failed reopenings in a row before the session is given up (sessionFailed).
    max_restarts: int = 5
    #: First backoff before reopening a crashed session (doubles; capped by
    #: ``reconnect_max_delay``).
    restart_base_delay: float = 1.0
    send_rate_per_minute: float = 20.0
    send_jitter_ms: int = 2000
    #: The proxy the session's browser goes through (the credentials' ``proxy``).
    proxy: SessionProxy | None = None
    #: The pinned WhatsApp Web build (``WHATSAPP_WEB_VERSION``), for the outdated reports.
    web_version: str | None = None
    #: The digits the session must be logged in as (``phoneNumberId`` when it is a number).
    expected_phone: str | None = None


@dataclass(frozen=True, slots=True)
class LinkCode:
    """A pairing code for linking by phone number (``linkcode.py``)."""

    code: str  # as shown to people: ABCD-EFGH
    phone: str | None  # the number being linked (digits); None if the page did not say
    expires_at: datetime
    attempts: int  # pairing codes this run has shown


class SessionListener(Protocol):
    """Where a session's events go (Redis, Kafka, status updates)."""

    async def on_status(
        self, session: WhatsAppSession, status: SessionStatus, detail: str | None
    ) -> None: ...

    async def on_state(
        self, session: WhatsAppSession, state: ConnectionState, detail: str | None = None
    ) -> None: ...

    async def on_qr(self, session: WhatsAppSession, qr: QrCode) -> None: ...

    async def on_qr_cleared(self, session: WhatsAppSession) -> None: ...

    async def on_link_code(self, session: WhatsAppSession, code: LinkCode) -> None: ...

    async def on_ack(self, session: WhatsAppSession, ack: int, ids: list[str]) -> None: ...

    async def on_message(self, session: WhatsAppSession, message: dict[str, Any]) -> None: ...


class SessionHooks(Protocol):
    """What the session manager does around a run: archive the token, give the lease back."""

    async def session_logged_in(self, session: WhatsAppSession) -> None:
        """The run is logged in (a scan, or a start on a logged-in profile).

        ``session.login_on_disk`` says whether the login is known to be on disk yet.
        """
        ...

    async def session_closed(self, session: WhatsAppSession) -> None:
        """The run ended and its browser is closed (``session.close_reason`` says why)."""
        ...


def options_for(settings: Settings, credentials: WPPConnectCredentials | None) -> SessionOptions:
    """The tenant's credentials (autoClose, qrTimeout, disableWelcome) over the settings."""
    creds = credentials
    return SessionOptions(
        auto_close_ms=(
            creds.auto_close
            if creds and creds.auto_close is not None
            else settings.wppconnect_auto_close_ms
        ),
        qr_timeout_ms=(
            creds.qr_timeout if creds and creds.qr_timeout else settings.wppconnect_qr_timeout_ms
        ),
        sync_timeout_ms=settings.wppconnect_sync_timeout_ms,
        disable_welcome=(
            creds.disable_welcome
            if creds and creds.disable_welcome is not None
            else settings.wppconnect_disable_welcome
        ),
        takeover_on_conflict=settings.wppconnect_takeover_on_conflict,
        conflict_timeout_ms=settings.wppconnect_conflict_timeout_ms,
        max_reconnects=settings.wppconnect_max_reconnects,
        reconnect_max_delay=settings.wppconnect_reconnect_max_delay_seconds,
        session_label=creds.session_name if creds else settings.wppconnect_session_name,
        watchdog_interval_ms=settings.wppconnect_watchdog_interval_ms,
        max_restarts=settings.wppconnect_max_restarts,
        restart_base_delay=min(1.0, settings.wppconnect_reconnect_max_delay_seconds),
        send_rate_per_minute=settings.wppconnect_send_rate,
        send_jitter_ms=settings.wppconnect_send_jitter_ms,
        proxy=proxy_for(creds),
        web_version=settings.whatsapp_web_version,
        expected_phone=creds.expected_phone() if creds else None,
    )


def proxy_for(credentials: WPPConnectCredentials | None) -> SessionProxy | None:
    """The credentials' ``proxy``, password revealed only into the launch option."""
    proxy = credentials.proxy if credentials else None
    if proxy is None:
        return None
    password = proxy.password.get_secret_value() if proxy.password else None
    return SessionProxy(proxy.server, proxy.username, password)
