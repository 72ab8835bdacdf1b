"""Wire models of the WhatsApp Web (WPPConnect) session workers.

* :class:`QrCodeEvent` -- ``whatsapp.qr``: a new pairing QR code of a tenant's session.
* :class:`SessionStateEvent` -- ``whatsapp.state``: a statusFind status or a connection
  (socket) state of a session.
* :class:`InboundMessage` -- ``whatsapp.inbound``: a message a session received.
* :class:`SessionCommand` -- ``whatsapp.commands``: connect, disconnect, logout or status.

Every record is keyed by its tenant id. The status and state names are WPPConnect's
(``statusFind``) and WhatsApp Web's (``SOCKET_STATE``), unchanged.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from schemas._base import TenantId, WireModel
from schemas.status import utcnow

__all__ = [
    "STATUS_ALIASES",
    "CommandName",
    "ConnectionState",
    "InboundMessage",
    "QrCode",
    "QrCodeEvent",
    "SessionCommand",
    "SessionStateEvent",
    "SessionStatus",
    "WhatsAppErrorCode",
]


class SessionStatus(StrEnum):
    """WPPConnect's ``statusFind`` statuses that Herald emits, spelled as WPPConnect does.

    WPPConnect (and the seed) spell the phone's logout ``desconnectedMobile``: so does
    Herald; the dictionary spelling ``disconnectedMobile`` is accepted on input as an alias
    (:data:`STATUS_ALIASES`). WPPConnect's ``qrReadError`` and ``serverClose`` are not
    emitted: a page that cannot be read after a scan is ``browserClose`` with a restart
    (docs/whatsapp-sessions.md), and WhatsApp's server closing the link is the ``TIMEOUT``
    connection state.
    """

    IS_LOGGED = "isLogged"
    NOT_LOGGED = "notLogged"
    QR_READ_SUCCESS = "qrReadSuccess"
    QR_READ_FAIL = "qrReadFail"  # a scan (or a pairing code) started and did not link
    BROWSER_CLOSE = "browserClose"
    AUTOCLOSE_CALLED = "autocloseCalled"
    DISCONNECTED_MOBILE = "desconnectedMobile"  # WPPConnect's spelling
    DELETE_TOKEN = "deleteToken"
    IN_CHAT = "inChat"
    PHONE_NOT_CONNECTED = "phoneNotConnected"
    # Herald's own, for sessions across workers (docs/whatsapp-sessions.md):
    SESSION_FAILED = (
        "sessionFailed"  # the browser failed WHATSAPP_WPPCONNECT_MAX_RESTARTS times in a row
    )
    SESSION_REFUSED = "sessionRefused"  # the worker runs WHATSAPP_WPPCONNECT_MAX_SESSIONS already
    # the phone that logged in is not the integration's phoneNumberId (logged out again)
    WRONG_NUMBER = "wrongNumber"

    @classmethod
    def _missing_(cls, value: object) -> SessionStatus | None:
        alias = STATUS_ALIASES.get(str(value))
        return cls(alias) if alias else None


#: Other spellings accepted on input -> the status Herald emits.
STATUS_ALIASES: dict[str, str] = {"disconnectedMobile": "desconnectedMobile"}


class ConnectionState(StrEnum):
    """WhatsApp Web's socket states (``WPP.whatsapp.Socket.state``; wa-js ``SOCKET_STATE``)."""

    CONFLICT = "CONFLICT"
    CONNECTED = "CONNECTED"
    DEPRECATED_VERSION = "DEPRECATED_VERSION"
    OPENING = "OPENING"
    PAIRING = "PAIRING"
    PROXYBLOCK = "PROXYBLOCK"
    SMB_TOS_BLOCK = "SMB_TOS_BLOCK"
    TIMEOUT = "TIMEOUT"
    TOS_BLOCK = "TOS_BLOCK"
    UNLAUNCHED = "UNLAUNCHED"
    UNPAIRED = "UNPAIRED"
    UNPAIRED_IDLE = "UNPAIRED_IDLE"


class WhatsAppErrorCode(StrEnum):
    """``error.code`` of WhatsApp Web messages that failed because of their session.

    All are retryable (``error.retryable``): the same message can go out once the session
    is usable again. docs/whatsapp-sessions.md says which session state leads to which.
    """

    SESSION_NOT_AUTHENTICATED = "session_not_authenticated"  # QR not scanned, or logged out
    SESSION_DISCONNECTED = "session_disconnected"  # closed on purpose (disconnect, shutdown)
    SESSION_FAILED = "session_failed"  # browser or connection failed too often
    SESSION_CONFLICT = "session_conflict"  # WhatsApp Web open elsewhere, takeover off
    SESSION_BLOCKED = "session_blocked"  # PROXYBLOCK, TOS_BLOCK, SMB_TOS_BLOCK
    SESSION_OUTDATED = "session_outdated"  # DEPRECATED_VERSION, needs_update: upgrade the pin
    PHONE_NOT_CONNECTED = "phone_not_connected"  # logged in but never reached the chats
    SESSION_LIMIT = "session_limit"  # the worker runs its maximum of sessions
    SESSION_UNAVAILABLE = "session_unavailable"  # the browser did not start
    SESSION_RELOADING = "session_reloading"  # the page reloaded during the call
    SESSION_CLOSED = "session_closed"  # the browser closed during the call
    SESSION_NOT_OWNED = "session_not_owned"  # another worker owns the session now
    SESSION_OWNED_ELSEWHERE = "session_owned_elsewhere"  # its owner did not let go in time
    SESSION_WRONG_NUMBER = "session_wrong_number"  # logged in by another number than expected


class CommandName(StrEnum):
    CONNECT = "connect"  # start the session (shows a QR code if it is not paired)
    DISCONNECT = "disconnect"  # close the browser; the pairing (token) is kept
    LOGOUT = "logout"  # log out on WhatsApp and delete the token
    STATUS = "status"  # re-publish the session's status and state
    PAIRING_CODE = "pairingCode"  # link by phone number: a code for ``phone`` (docs)


class QrCode(WireModel):
    """The seed's QR JSON, as stored in Redis (``wppconnect:qr:{tenantId}``) and served."""

    qr_code: str = Field(description="PNG of the QR code as a data URL (base64)")
    ascii_qr: str = Field(alias="asciiQR", description="the QR code for a terminal")
    url_code: str = Field(description="the encoded pairing code (WPP.conn.getAuthCode().fullCode)")
    expires_at: datetime
    attempts: int = Field(ge=1, description="QR codes shown by this session so far")


class QrCodeEvent(WireModel):
    """``whatsapp.qr``: a session needs pairing; scan ``qrCode`` with WhatsApp on the phone.

    Or, when the tenant links by phone number, enter ``pairingCode`` on the phone of
    ``phone`` (WhatsApp -> Linked devices -> Link with phone number): such an event carries
    ``pairingCode`` and ``phone`` and no ``qrCode``, ``asciiQR``, ``urlCode``, ``qrRef`` or
    ``qrUrl``.

    With ``WHATSAPP_WPPCONNECT_QR_PUBLISH=reference`` the event carries no pairing material
    (``qrCode``, ``asciiQR``, ``urlCode``, ``pairingCode`` absent): the UI fetches a QR code
    from ``qrUrl`` with a ``session``-scoped API key of the tenant (docs/security.md); a
    pairing code goes only to whoever asked for it (``POST .../pairing-code``).
    """

    tenant_id: str
    session: str = Field(
        description="tenant-{tenantId}; tenant-{tenantId}@{sessionName} for further sessions"
    )
    session_name: str | None = Field(
        default=None,
        description="the session's `sessionName` (a tenant may run several sessions)",
    )
    qr_code: str | None = Field(
        default=None, description="PNG of the QR code as a data URL (absent: reference mode)"
    )
    ascii_qr: str | None = Field(
        default=None, alias="asciiQR", description="the QR code for a terminal (absent: reference)"
    )
    url_code: str | None = Field(
        default=None, description="the encoded pairing code (absent: reference mode)"
    )
    expires_at: datetime
    attempts: int = Field(ge=1, description="QR codes shown by this session so far")
    qr_ref: str | None = Field(
        default=None,
        description="a digest naming this QR code (not the code): the one GET qrUrl returns",
    )
    qr_url: str | None = Field(
        default=None, description="where the UI fetches the code (an authenticated endpoint)"
    )
    pairing_code: str | None = Field(
        default=None,
        description="link by phone number: the code to enter on the phone, e.g. ABCD-EFGH",
    )
    phone: str | None = Field(
        default=None, description="link by phone number: the number (digits) being linked"
    )
    timestamp: datetime = Field(default_factory=utcnow)


class SessionStateEvent(WireModel):
    """``whatsapp.state``: a status (statusFind) or a connection state of a session.

    One of ``status`` and ``state`` is set; neither only in the answer to a ``status``
    command for a tenant the worker holds no session of (``detail`` says so).
    """

    tenant_id: str
    session: str
    session_name: str | None = Field(
        default=None,
        description="the session's `sessionName` (a tenant may run several sessions)",
    )
    status: SessionStatus | None = None
    state: ConnectionState | None = None
    phone: str | None = Field(default=None, description="the paired phone, when logged in")
    detail: str | None = None
    timestamp: datetime = Field(default_factory=utcnow)


class InboundMessage(WireModel):
    """``whatsapp.inbound``: a message received by a tenant's session (not sent by it)."""

    tenant_id: str
    session: str
    session_name: str | None = Field(
        default=None,
        description="the session's `sessionName` (a tenant may run several sessions)",
    )
    message_id: str = Field(description="WhatsApp's message id (serialized key)")
    from_: str = Field(alias="from", description="sender's WhatsApp id, e.g. 5511999990000@c.us")
    to: str | None = None
    type: str = "chat"
    body: str | None = None
    timestamp: datetime


class SessionCommand(WireModel):
    """``whatsapp.commands``: executed by the worker that owns the tenant's session.

    ``pairingCode`` needs ``phone``; its answer (the code, or why there is none) is left
    in Redis under ``requestId`` for the endpoint that asked (docs/whatsapp-web.md).
    """

    tenant_id: TenantId
    command: CommandName
    session_name: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="which of the tenant's sessions (its `sessionName`); absent: the default",
    )
    phone: str | None = Field(
        default=None,
        pattern=r"^[1-9][0-9]{7,14}$",
        description="pairingCode: the number to link, digits only (E.164 without +)",
    )
    request_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="pairingCode: where the owning worker leaves its answer",
    )
    requested_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _phone_for_pairing(self) -> SessionCommand:
        if self.command == CommandName.PAIRING_CODE and self.phone is None:
            raise ValueError("the pairingCode command needs a phone")
        return self
