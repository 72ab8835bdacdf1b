"""Retry agents: one per delay topic (``notifications.retry.<tier>``).

Each waits until the head record of its partition is due, then hands it to the
processor (overlapping with other work, acknowledged once its outcome is on the
broker). Records of one tier share one delay, so waiting on the head is waiting in due
order; a record may be late by at most the spread of delays within its tier.

A record being waited for is not acknowledged, and Faust waits for every record in
hand before a rebalance or a stop goes on (``stream_wait_empty``): holding one for the
rest of its delay (up to the longest tier) would stall the group's rebalance and a
worker's stop until it is killed. So when the app's flow control is suspended (a
rebalance or a stop begins), the wait ends and the envelope is produced again to the
same tier before the record is acknowledged; whoever owns the partition next takes it
when due. A crash in between leaves two copies, which is harmless: attempts are fenced
(``schedule_retry``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

import faust
from pydantic import ValidationError

from schemas import DeadLetterReason
from schemas.retry import RetryEnvelope
from schemas.status import utcnow
from streams.agents.router import acked_records
from streams.pipeline.decode import dead_letter_for

if TYPE_CHECKING:
    from streams.platform.runtime import Runtime
    from streams.platform.topics import Topics

__all__ = ["SUSPEND_CHECK_SECONDS", "register", "until_due"]

log = logging.getLogger(__name__)

#: How often a waiting retry agent looks whether a rebalance or a stop has begun.
SUSPEND_CHECK_SECONDS = 0.2


class FlowControl(Protocol):
    """What :func:`until_due` needs of Faust's ``app.flow_control``."""

    def is_active(self) -> bool: ...


def register(app: faust.App, topics: Topics, runtime: Runtime) -> list[Any]:
    agents = []
    for name, topic in topics.retry.items():
        agents.append(_register_one(app, name, topic, runtime))
    return agents


def _register_one(app: faust.App, name: str, topic: Any, runtime: Runtime) -> Any:
    @app.agent(topic, name=f"retry:{name}")
    async def retry(stream: Any) -> None:
        await runtime.start()
        async for record, done in acked_records(stream):
            try:
                envelope = RetryEnvelope.model_validate_json(record.value or b"")
            except ValidationError as exc:
                detail = f"not a retry envelope: {exc.error_count()} errors"
                letter = dead_letter_for(record, DeadLetterReason.NOT_JSON, detail)
                await runtime.sink.dead_letter(letter)
                await done()
                continue
            wait = (envelope.due_at - utcnow()).total_seconds()
            if wait > 0:
                ids = {
                    "tenant_id": envelope.request.tenant_id,
                    "notification_id": envelope.request.id,
                    "topic": name,
                }
                log.info("retry waiting until due", extra={**ids, "seconds": round(wait, 3)})
                if not await until_due(app.flow_control, wait):
                    await runtime.sink.retry(name, envelope)  # handed on, not held
                    await done()
                    log.info("retry handed on: a rebalance or a stop began", extra=ids)
                    continue
            await runtime.processor.submit_retry(envelope, done, source=record)  # HOOK(outbox)

    return retry


async def until_due(flow: FlowControl, seconds: float) -> bool:
    """Wait ``seconds``; False as soon as ``flow`` is suspended (a rebalance or a stop)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while flow.is_active():
        left = deadline - loop.time()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, SUSPEND_CHECK_SECONDS))
    return False
