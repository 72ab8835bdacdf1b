"""Session commands from ``whatsapp.commands``: ``{tenantId, command, sessionName?}``.

``sessionName`` picks one of the tenant's sessions (``selection.py``); without it the
command is for the tenant's default session.

``connect`` starts the tenant's session (a QR code follows if it is not paired),
``disconnect`` closes its browser and keeps the pairing, ``logout`` logs out on
WhatsApp and deletes the token, ``status`` re-publishes the session's status and
state, ``pairingCode`` asks the session for a code to link ``phone`` by phone number
and leaves the answer in Redis for the endpoint that asked (``requestId``). The worker
that owns the tenant (its ``whatsapp.dispatch`` partition, which
is the same partition number of this topic) executes them. Records that are not a
command go to the dead-letter topic, byte for byte; nothing here raises into Faust.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from schemas import DeadLetterReason
from schemas._base import TENANT_ID_PATTERN
from schemas.errors import HeraldError, ProviderError, RetryableError
from schemas.whatsapp import CommandName, SessionCommand, SessionStateEvent
from streams.pipeline.decode import DeadLetter, RawRecord, dead_letter_for
from streams.pipeline.inflight import InFlight
from streams.pipeline.processor import EventSink
from streams.pipeline.resolve import Rejection
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.whatsapp.events import SessionEvents
from streams.whatsapp.manager import SessionManager, options_for
from streams.whatsapp.selection import select_session
from streams.whatsapp.tokens import session_name

__all__ = ["MAX_COMMAND_BYTES", "CommandProcessor", "decode_command"]

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 4096


def decode_command(record: RawRecord) -> SessionCommand | DeadLetter:
    """A :class:`SessionCommand`, or the dead letter saying why the bytes are not one."""
    raw = record.value
    if raw is not None and len(raw) > MAX_COMMAND_BYTES:
        return dead_letter_for(
            record, DeadLetterReason.TOO_LARGE, f"larger than {MAX_COMMAND_BYTES} bytes"
        )
    try:
        text = (raw or b"").decode("utf-8")
    except UnicodeDecodeError:
        return dead_letter_for(record, DeadLetterReason.NOT_UTF8, "value is not UTF-8")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return dead_letter_for(record, DeadLetterReason.NOT_JSON, "value is not JSON")
    if not isinstance(data, dict):
        return dead_letter_for(record, DeadLetterReason.NOT_AN_OBJECT, "value is not a JSON object")
    tenant = data.get("tenantId")
    if not isinstance(tenant, str) or not tenant:
        return dead_letter_for(record, DeadLetterReason.MISSING_TENANT, "tenantId is missing")
    try:
        return SessionCommand.model_validate(data)
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors(include_input=False) if e["loc"]}
        if "tenantId" in fields or "tenant_id" in fields:
            return dead_letter_for(
                record, DeadLetterReason.INVALID_TENANT, f"tenantId must match {TENANT_ID_PATTERN}"
            )
        if "sessionName" in fields or "session_name" in fields:
            return dead_letter_for(
                record, DeadLetterReason.INVALID_COMMAND, "sessionName must be 1 to 64 characters"
            )
        if "command" not in fields and ("phone" in fields or _needs_phone(exc)):
            return dead_letter_for(
                record,
                DeadLetterReason.INVALID_COMMAND,
                "pairingCode needs a phone of 8 to 15 digits (no +, no leading zero)",
            )
        if "command" not in fields and fields:
            named = ", ".join(sorted(fields))
            return dead_letter_for(record, DeadLetterReason.INVALID_COMMAND, f"invalid {named}")
        names = ", ".join(c.value for c in CommandName)
        return dead_letter_for(
            record, DeadLetterReason.INVALID_COMMAND, f"command must be one of {names}"
        )


def _needs_phone(exc: ValidationError) -> bool:
    """The error is the model's "the pairingCode command needs a phone"."""
    return any("needs a phone" in str(e.get("msg", "")) for e in exc.errors(include_input=False))


@dataclass(kw_only=True, eq=False)
class CommandProcessor:
    """Runs the session commands (connect, disconnect, logout, status, pairingCode)."""

    sessions: SessionManager
    events: SessionEvents
    sink: EventSink
    lookups: LookupsService
    integrations: IntegrationStore
    inflight: InFlight = field(default_factory=lambda: InFlight(64), init=False)

    async def submit(self, record: RawRecord, done: Callable[[], Awaitable[object]]) -> None:
        decoded = decode_command(record)
        if isinstance(decoded, DeadLetter):
            letter = decoded
            log.warning(
                "undecodable session command",
                extra={"reason": letter.info.reason.value, "offset": record.offset},
            )
            await self.inflight.submit("\x00dlq", lambda: self.sink.dead_letter(letter), done)
            return
        command = decoded
        await self.inflight.submit(
            command.tenant_id, lambda: self.execute(command, partition=record.partition), done
        )

    async def execute(self, command: SessionCommand, *, partition: int | None = None) -> None:
        tenant = command.tenant_id
        log.info(
            "session command",
            extra={
                "tenant_id": tenant,
                "command": command.command.value,
                "session_name": command.session_name,
            },
        )
        try:
            if command.command == CommandName.CONNECT:
                await self._connect(command, partition)
            elif command.command == CommandName.DISCONNECT:
                await self.sessions.close(await self._sid(command), "disconnect")
            elif command.command == CommandName.LOGOUT:
                await self.sessions.close(await self._sid(command), "logout", logout=True)
            elif command.command == CommandName.PAIRING_CODE:
                await self._pairing_code(command, partition)
            else:
                await self._status(command)
        except Rejection as exc:
            log.warning("session command refused", extra={"tenant_id": tenant, "code": exc.code})
        except Exception:
            log.exception("session command failed", extra={"tenant_id": tenant})

    async def _connect(self, command: SessionCommand, partition: int | None) -> str:
        """Start the session the command means; its session id."""
        credentials, ref = await select_session(
            command.tenant_id, command.session_name, self.lookups, self.integrations
        )
        options = options_for(self.sessions.settings, credentials)
        await self.sessions.ensure(ref.sid, options, partition=partition, is_default=ref.is_default)
        return ref.sid

    async def _pairing_code(self, command: SessionCommand, partition: int | None) -> None:
        """Start the session if needed, ask it for a pairing code, leave the answer."""
        tenant, phone = command.tenant_id, command.phone or ""
        result: dict[str, object]
        try:
            sid = await self._connect(command, partition)
            session = self.sessions.get(sid)
            if session is None:
                raise RetryableError("session_closed", "the session did not start")
            timeout = self.sessions.settings.wppconnect_call_timeout_seconds
            link = await session.request_link_code(phone, timeout=timeout)
            result = {"pairingCode": link.code, "expiresAt": link.expires_at.isoformat()}
        except (ProviderError, Rejection) as exc:
            log.warning("no pairing code", extra={"tenant_id": tenant, "code": exc.code})
            error: dict[str, object] = {"code": exc.code, "message": exc.message}
            error["retryable"] = isinstance(exc, HeraldError) and exc.retryable
            if isinstance(exc, RetryableError) and exc.retry_after:
                error["retryAfter"] = exc.retry_after
            result = {"error": error}
        except Exception:
            log.exception("pairing code request failed", extra={"tenant_id": tenant})
            result = {"error": {"code": "internal_error", "message": "the worker failed"}}
        if command.request_id:
            await self.events.store.put_link_result(tenant, command.request_id, result)

    async def _sid(self, command: SessionCommand) -> str:
        """The session id the command means; the tenant's first session when the tenant
        has no integration to choose from (its session may still run or hold a token)."""
        try:
            _, ref = await select_session(
                command.tenant_id, command.session_name, self.lookups, self.integrations
            )
        except Rejection:
            if command.session_name is not None:
                raise
            return command.tenant_id
        return ref.sid

    async def _status(self, command: SessionCommand) -> None:
        tenant = command.tenant_id
        sid = await self._sid(command)
        session = self.sessions.get(sid)
        if session is None or (session.status is None and session.state is None):
            await self.events.sink.state(
                SessionStateEvent(
                    tenant_id=tenant,
                    session=session_name(sid),
                    session_name=command.session_name,
                    detail="no session on this worker",
                )
            )
            return
        if session.status is not None:
            await self.events.on_status(session, session.status, "status command")
        if session.state is not None:
            await self.events.on_state(session, session.state)
