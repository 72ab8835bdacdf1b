"""Where session events go: Redis (for the endpoints), Kafka, and status updates.

:class:`SessionEvents` is the :class:`~streams.whatsapp.session.SessionListener` of
the worker: a QR code is stored at ``wppconnect:qr:{sid}`` (``naming.py``) and produced to
``whatsapp.qr``; statuses and states are written to the session hash and produced to
``whatsapp.state``; acks become delivery reports (``StatusUpdater``); incoming
messages go to ``whatsapp.inbound``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from providers.wppconnect import WPPConnectProvider, ack_outcome
from schemas.status import utcnow
from schemas.whatsapp import (
    ConnectionState,
    InboundMessage,
    QrCode,
    QrCodeEvent,
    SessionStateEvent,
    SessionStatus,
)
from streams.pipeline.updates import DeliveryReport, StatusUpdater
from streams.platform.metrics import metrics
from streams.platform.waiting import ChangeWaiter
from streams.whatsapp.store import LOGGED_IN, SessionStore, qr_ref

if TYPE_CHECKING:
    from streams.platform.topics import Topics
    from streams.whatsapp.options import LinkCode
    from streams.whatsapp.session import WhatsAppSession

__all__ = ["FaustWhatsAppSink", "MemoryWhatsAppSink", "SessionEvents", "WhatsAppSink", "qr_url"]

log = logging.getLogger(__name__)

PROVIDER = WPPConnectProvider.name


class WhatsAppSink(Protocol):
    """The WhatsApp topics; each call returns once the broker has the record."""

    async def qr(self, event: QrCodeEvent) -> None: ...

    async def state(self, event: SessionStateEvent) -> None: ...

    async def inbound(self, message: InboundMessage) -> None: ...


class FaustWhatsAppSink:
    def __init__(self, topics: Topics) -> None:
        self._topics = topics

    async def _send(self, topic: Any, key: str, value: bytes) -> None:
        pending = await topic.send(key=key.encode(), value=value)
        await pending

    async def qr(self, event: QrCodeEvent) -> None:
        await self._send(self._topics.whatsapp_qr, event.tenant_id, event.to_json())

    async def state(self, event: SessionStateEvent) -> None:
        await self._send(self._topics.whatsapp_state, event.tenant_id, event.to_json())

    async def inbound(self, message: InboundMessage) -> None:
        await self._send(self._topics.whatsapp_inbound, message.tenant_id, message.to_json())


class MemoryWhatsAppSink(ChangeWaiter):
    """Keeps everything in lists (tests); ``wait_for(predicate)`` as ``MemorySink``'s."""

    def __init__(self) -> None:
        super().__init__()
        self.qrs: list[QrCodeEvent] = []
        self.states: list[SessionStateEvent] = []
        self.messages: list[InboundMessage] = []

    async def qr(self, event: QrCodeEvent) -> None:
        self.qrs.append(event)
        self._notify()

    async def state(self, event: SessionStateEvent) -> None:
        self.states.append(event)
        self._notify()

    async def inbound(self, message: InboundMessage) -> None:
        self.messages.append(message)
        self._notify()

    def statuses(self, tenant_id: str | None = None) -> list[str]:
        return [
            e.status.value
            for e in self.states
            if e.status is not None and (tenant_id is None or e.tenant_id == tenant_id)
        ]


def _label(session: WhatsAppSession) -> str:
    """The session's ``sessionName`` (its integration's, else the configured default)."""
    return session.options.session_label


def qr_url(session: WhatsAppSession) -> str:
    """Where the UI reads the session's QR code: the tenant's URL, naming the session
    (``?session=``) unless it is the one an unnamed request selects (``endpoints.py``)."""
    url = f"/webhooks/wppconnect/qr/{session.tenant_id}"
    if session.sid != session.tenant_id or not session.is_default:
        url += f"?session={quote(_label(session), safe='')}"
    return url


def _timestamp(seconds: Any) -> datetime:
    if isinstance(seconds, int | float) and seconds > 0:
        return datetime.fromtimestamp(seconds, UTC)
    return utcnow()


class SessionEvents:
    """The worker's session listener."""

    def __init__(
        self,
        store: SessionStore,
        sink: WhatsAppSink,
        updater: StatusUpdater,
        *,
        qr_publish: str = "full",
    ) -> None:
        self.store = store
        self.sink = sink
        self.updater = updater
        self.qr_publish = qr_publish  # "full" or "reference" (WHATSAPP_WPPCONNECT_QR_PUBLISH)

    async def _publish(self, session: WhatsAppSession, label: str, **change: Any) -> None:
        """A :class:`SessionStateEvent` of ``session`` with ``change`` (a status or a state)."""
        await self.sink.state(
            SessionStateEvent(
                tenant_id=session.tenant_id, session=session.name, session_name=label, **change
            )
        )

    async def on_status(
        self, session: WhatsAppSession, status: SessionStatus, detail: str | None
    ) -> None:
        phone = session.phone if status.value in LOGGED_IN else None
        label = _label(session)
        await self.store.record_status(
            session.sid,
            session.name,
            status.value,
            detail=detail,
            phone=phone,
            session_name=label,
        )
        await self._publish(session, label, status=status, phone=phone, detail=detail)

    async def on_state(
        self, session: WhatsAppSession, state: ConnectionState, detail: str | None = None
    ) -> None:
        label = _label(session)
        await self.store.record_state(
            session.sid, session.name, state.value, detail=detail, session_name=label
        )
        await self._publish(session, label, state=state, detail=detail)

    async def on_qr(self, session: WhatsAppSession, qr: QrCode) -> None:
        metrics().qr_codes.add(1)
        await self.store.put_qr(session.sid, qr, session.options.qr_timeout_ms)
        material = qr.model_dump() if self.qr_publish == "full" else {}
        if not material:  # reference: where to fetch it, not what it is
            material = {"expires_at": qr.expires_at, "attempts": qr.attempts}
        await self.sink.qr(
            QrCodeEvent(
                tenant_id=session.tenant_id,
                session=session.name,
                session_name=_label(session),
                qr_ref=qr_ref(qr.url_code),
                qr_url=qr_url(session),
                **material,
            )
        )

    async def on_qr_cleared(self, session: WhatsAppSession) -> None:
        await self.store.clear_qr(session.sid)

    async def on_link_code(self, session: WhatsAppSession, code: LinkCode) -> None:
        """A pairing code (link by phone number): on ``whatsapp.qr``, without a QR code."""
        full = self.qr_publish == "full"
        await self.sink.qr(
            QrCodeEvent(
                tenant_id=session.tenant_id,
                session=session.name,
                session_name=_label(session),
                pairing_code=code.code if full else None,
                phone=code.phone,
                expires_at=code.expires_at,
                attempts=code.attempts,
            )
        )

    async def on_ack(self, session: WhatsAppSession, ack: int, ids: list[str]) -> None:
        outcome = ack_outcome(ack)
        if outcome is None:
            return
        for message_id in ids:
            await self.updater.apply(
                DeliveryReport(
                    provider=PROVIDER,
                    provider_message_id=message_id,
                    status=outcome.status,
                    error=outcome.error,
                    metadata=outcome.metadata or None,
                    tenants=frozenset({session.tenant_id}),
                )
            )

    async def on_message(self, session: WhatsAppSession, message: dict[str, Any]) -> None:
        await self.sink.inbound(
            InboundMessage(
                tenant_id=session.tenant_id,
                session=session.name,
                session_name=_label(session),
                message_id=str(message["id"]),
                from_=str(message.get("from") or ""),
                to=message.get("to") if isinstance(message.get("to"), str) else None,
                type=str(message.get("type") or "chat"),
                body=message.get("body") if isinstance(message.get("body"), str) else None,
                timestamp=_timestamp(message.get("t")),
            )
        )
