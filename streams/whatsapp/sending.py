"""Sending through a session: message ids, the wa-js call, and its errors.

:func:`send` checks the number is on WhatsApp (``contact.queryExists``), passes the
ownership fence, and calls the ``WPP.chat.*`` function with a message id derived from
the notification (:func:`message_key`), so that a send repeated on another worker or
attempt reaches the recipient once. Driver failures become provider errors
(:func:`translate`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from providers._exceptions import PermanentError, ProviderTimeout, RetryableError
from providers.wppconnect import WppCall, classify_wpp_error
from streams.whatsapp.driver import (
    ContextReset,
    DriverClosed,
    DriverError,
    DriverTimeout,
    WppError,
)

if TYPE_CHECKING:
    from streams.whatsapp.session import WhatsAppSession

__all__ = [
    "REMOTE_MISMATCH",
    "chat_of",
    "message_key",
    "prepare",
    "send",
    "translate",
    "with_message_id",
]


def message_key(tenant_id: str, notification_id: str) -> str:
    """The WhatsApp message id of a notification: the same on every worker and every try.

    WhatsApp (and the simulator) keep one message per id, so a send repeated after a
    crash or a hand-over -- when it is unknown whether the first one went out -- does not
    reach the recipient twice.
    """
    digest = hashlib.sha256(f"{tenant_id}\x00{notification_id}".encode()).hexdigest()
    return "3EB0" + digest[:16].upper()


def with_message_id(call: WppCall, chat_id: str, key: str | None) -> tuple[Any, ...]:
    """The call's arguments with wa-js's ``messageId`` send option set to ``key``."""
    if key is None:
        return call.args
    option = {"messageId": f"true_{chat_id}_{key}"}
    args = list(call.args)
    if call.function != "chat.sendVCardContactMessage" and args and isinstance(args[-1], dict):
        args[-1] = {**args[-1], **option}
    else:
        args.append(option)
    return tuple(args)


def translate(exc: DriverError, what: str) -> RetryableError | PermanentError:
    """Driver failures -> the provider error tree (``raise ... from exc`` at the call site)."""
    if isinstance(exc, DriverTimeout):
        return ProviderTimeout(f"WhatsApp Web did not answer {what} in time")
    if isinstance(exc, ContextReset):
        return RetryableError("session_reloading", f"WhatsApp Web reloaded during {what}")
    if isinstance(exc, DriverClosed):
        return RetryableError("session_closed", f"the session's browser closed during {what}")
    if isinstance(exc, WppError):
        found = classify_wpp_error(exc.code)  # providers/wppconnect/_errors.py
        message = f"WhatsApp Web refused {what}: {exc}"
        if not found.retryable:
            return PermanentError(found.code, message, provider_code=exc.code)
        return RetryableError(
            found.code, message, retry_after=found.retry_after, provider_code=exc.code
        )
    return RetryableError("provider_error", f"{what} failed: {exc}")


async def prepare(session: WhatsAppSession) -> None:
    """Wait until the session can send and its pacing allows the next message."""
    await session.wait_ready()
    await session.pacer.wait()
    await session.wait_ready()


async def send(
    session: WhatsAppSession,
    call: WppCall,
    *,
    key: str | None,
    fence: Callable[[WhatsAppSession], Awaitable[None]],
) -> str:
    """Send ``call`` once the session is ready; WhatsApp's message id.

    ``fence`` runs right before the page is called and raises if this worker no longer
    owns the session.
    """
    found: Any = None
    for attempt in (1, 2):
        await session.wait_ready()
        try:
            found = await session.call("contact.queryExists", call.chat_id)
            break
        except ContextReset as exc:
            if attempt == 2:  # a read: safe to ask the reloaded page once more
                raise translate(exc, "the contact check") from exc
        except DriverError as exc:
            raise translate(exc, "the contact check") from exc
    if not found:
        raise PermanentError("not_on_whatsapp", f"{call.chat_id} is not on WhatsApp")
    wid, lid = (
        (_text(found.get(k)) for k in ("wid", "lid"))
        if isinstance(found, dict)
        else (
            None,
            None,
        )
    )
    chat_id = session.chat_ids.get(call.chat_id) or wid or call.chat_id
    await fence(session)
    try:
        try:
            result: Any = await session.call(
                call.function, chat_id, *with_message_id(call, chat_id, key)
            )
        except WppError as exc:
            # WhatsApp addresses this chat by its LID: wa-js refuses a message id whose
            # chat is the phone number's. Nothing was created: the same id, on the LID.
            if exc.code != REMOTE_MISMATCH or key is None or not lid or lid == chat_id:
                raise
            chat_id = lid
            result = await session.call(
                call.function, chat_id, *with_message_id(call, chat_id, key)
            )
    except DriverError as exc:
        raise translate(exc, call.function) from exc
    session.touch()
    message_id = result.get("id") if isinstance(result, dict) else None
    if not isinstance(message_id, str) or not message_id:
        raise RetryableError("provider_error", f"{call.function} returned no message id")
    resolved = chat_of(result, message_id)
    if resolved is not None:
        session.remember_chat(call.chat_id, resolved)
    return message_id


#: wa-js's code for a ``messageId`` whose chat is not the chat the message goes to.
REMOTE_MISMATCH = "message_key_remote_id_is_not_same_of_chat"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def chat_of(result: Any, message_id: str) -> str | None:
    """The chat wa-js sent to: the result's ``to``, else the chat part of its message id
    (``true_<chat>_<key>``; ``sendFileMessage`` answers no ``to``)."""
    to = _text(result.get("to")) if isinstance(result, dict) else None
    if to is not None:
        return to
    head, _, rest = message_id.partition("_")
    chat, _, tail = rest.rpartition("_")
    return chat if head in ("true", "false") and "@" in chat and tail else None
