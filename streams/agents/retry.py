"""Retry agents: one per delay topic (``notifications.retry.<tier>``).

Each waits until the head record of its partition is due, then hands it to the
processor (overlapping with other work, acknowledged once its outcome is on the
broker). Records of one tier share one delay, so waiting on the head is waiting in due
order; a record may be late by at most the spread of delays within its tier.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

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

__all__ = ["register"]

log = logging.getLogger(__name__)


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
                await asyncio.sleep(wait)
            await runtime.processor.submit_retry(envelope, done, source=record)  # HOOK(outbox)

    return retry
