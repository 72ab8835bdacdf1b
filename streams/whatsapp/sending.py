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

__all__ = ["message_key", "prepare", "send", "translate", "with_message_id"]


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
    chat = found.get("wid") if isinstance(found, dict) else None
    chat_id = chat if isinstance(chat, str) and chat else call.chat_id
    await fence(session)
    try:
        result: Any = await session.call(
            call.function, chat_id, *with_message_id(call, chat_id, key)
        )
    except DriverError as exc:
        raise translate(exc, call.function) from exc
    session.touch()
    message_id = result.get("id") if isinstance(result, dict) else None
    if not isinstance(message_id, str) or not message_id:
        raise RetryableError("provider_error", f"{call.function} returned no message id")
    return message_id
