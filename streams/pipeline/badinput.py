"""Input that is not a request to deliver: a dead letter, or a request ``rejected`` as
invalid (``invalid_request``). Each ends on the broker (the dead-letter topic, or one
``rejected`` status event), never dropped; Redis and Kafka errors are retried.
"""

from __future__ import annotations

import logging
from typing import Any

from schemas import ErrorCode, ErrorInfo, Status, StatusEvent
from streams.pipeline.decode import DeadLetter, Invalid
from streams.pipeline.state import NotificationState
from streams.platform.infra import durable

__all__ = ["dead_letter", "reject_invalid"]

log = logging.getLogger("streams.pipeline.processor")


async def dead_letter(sink: Any, letter: DeadLetter) -> None:
    """Produce ``letter`` to the dead-letter topic (logged without the record's value)."""
    log.warning(
        "dead letter",
        extra={
            "reason": letter.info.reason.value,
            "detail": letter.info.detail[:200],
            "topic": letter.record.topic,
            "partition": letter.record.partition,
            "offset": letter.record.offset,
        },
    )
    await durable(lambda: sink.dead_letter(letter), "dead-letter")


async def reject_invalid(state: NotificationState, sink: Any, invalid: Invalid) -> None:
    """One ``rejected`` event for an invalid request (none if it already ended)."""

    async def step() -> None:
        record = await state.claim(invalid.tenant_id, invalid.notification_id)
        if record is not None and record.terminal:
            return
        await sink.status(
            StatusEvent(
                notification_id=invalid.notification_id,
                tenant_id=invalid.tenant_id,
                channel=invalid.channel,
                status=Status.REJECTED,
                error=ErrorInfo(code=ErrorCode.INVALID_REQUEST, message=invalid.message),
                metadata=invalid.metadata,
            )
        )
        await state.set_phase(
            invalid.tenant_id,
            invalid.notification_id,
            "rejected",
            error=ErrorInfo(
                code=ErrorCode.INVALID_REQUEST, message=invalid.message
            ).model_dump_json(by_alias=True),
        )

    log.info(
        "request rejected",
        extra={
            "tenant_id": invalid.tenant_id,
            "notification_id": invalid.notification_id,
            "code": ErrorCode.INVALID_REQUEST.value,
        },
    )
    await durable(step, "reject-invalid")
