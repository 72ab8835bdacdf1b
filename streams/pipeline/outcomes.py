"""A delivery's final outcomes on the per-request path: ``sent`` (with reports that came
first) and ``failed``. The batch path records its sends in waves
(:mod:`streams.pipeline.completions`) and ends failures here too.
"""

from __future__ import annotations

import logging
from typing import Any

from schemas import ErrorInfo, NotificationRequest, Status
from streams.pipeline.retrying import event_for
from streams.pipeline.state import NotificationRecord, NotificationState
from streams.platform.metrics import metrics

__all__ = ["fail", "finish_sent", "record_sent"]

log = logging.getLogger(__name__)


async def record_sent(
    state: NotificationState,
    sink: Any,
    request: NotificationRequest,
    provider: str,
    attempt: int,
    message_id: str,
) -> None:
    """A successful call (per-request path): compare-and-set in Redis, ``sent``, then any
    delivery report that arrived first. A result of a stale attempt emits nothing."""
    tenant, nid = request.tenant_id, request.id
    parked = await state.record_sent(tenant, nid, provider, message_id, attempt)
    if parked is None:
        log.warning(
            "late result of an attempt that is no longer current: not emitted",
            extra={
                "tenant_id": tenant,
                "notification_id": nid,
                "provider": provider,
                "attempt": attempt,
            },
        )
        return
    metrics().sent(provider)
    log.debug(  # per-notification success: the status topic is the record
        "notification sent",
        extra={
            "tenant_id": tenant,
            "notification_id": nid,
            "provider": provider,
            "attempt": attempt,
        },
    )
    await sink.status(
        event_for(request, Status.SENT, provider, attempt=attempt, provider_message_id=message_id)
    )
    await state.set_phase(tenant, nid, "sent")
    for item in parked:
        if await state.advance(tenant, nid, item.status) is not None:
            error = item.payload.get("error")
            await sink.status(
                event_for(
                    request,
                    item.status,
                    provider,
                    attempt=attempt,
                    provider_message_id=message_id,
                    error=ErrorInfo.model_validate(error) if error else None,
                )
            )


async def finish_sent(
    state: NotificationState, sink: Any, request: NotificationRequest, record: NotificationRecord
) -> None:
    """Resume after a crash between recording the send and emitting ``sent``."""
    await sink.status(
        event_for(
            request,
            Status.SENT,
            record.provider,
            attempt=record.attempt,
            provider_message_id=record.provider_message_id,
        )
    )
    await state.set_phase(request.tenant_id, request.id, "sent")


async def fail(
    state: NotificationState,
    sink: Any,
    request: NotificationRequest,
    provider: str | None,
    error: ErrorInfo,
    attempt: int,
) -> None:
    """End the notification ``failed`` with ``error`` (a terminal status, its phase set)."""
    log.warning(
        "notification failed",
        extra={
            "tenant_id": request.tenant_id,
            "notification_id": request.id,
            "provider": provider,
            "code": error.code,
            "attempt": attempt,
        },
    )
    await state.advance(request.tenant_id, request.id, Status.FAILED)
    metrics().failed(provider, error.code)
    await sink.status(event_for(request, Status.FAILED, provider, attempt=attempt, error=error))
    await state.set_phase(
        request.tenant_id, request.id, "failed", error=error.model_dump_json(by_alias=True)
    )
