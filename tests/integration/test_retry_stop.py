"""A worker stops cleanly on SIGTERM (before: never -- it was killed at the end of the
grace period), and a retry record waiting for its due time does not hold up its stop (or a
rebalance): the agent hands it on to its delay topic, and the record stays on the broker
for whoever takes the partition next. Real broker, real worker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord

from schemas import NotificationRequest, Settings
from schemas.retry import RetryEnvelope, RetryReason
from schemas.status import utcnow
from streams.pipeline.retrying import tier_topic
from tests.helpers import consume_until, produce
from tests.integration.batch_rig import request

pytestmark = pytest.mark.integration


async def test_a_stop_does_not_wait_for_a_retry_due_later(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    settings = settings_factory()
    topic = tier_topic(settings, 300)
    envelope = RetryEnvelope(
        request=NotificationRequest.model_validate(request()),
        attempt=2,
        provider="whatsapp-business",
        tried=["whatsapp-business"],
        due_at=utcnow() + timedelta(minutes=10),
        reason=RetryReason.RETRY,
    )
    worker = await worker_factory(settings)
    await produce(settings, topic, b"acme", envelope.to_json())
    await worker.logged("retry waiting until due")  # the agent has it, and waits
    # Before: Faust waited for the record to be acknowledged, i.e. for ten minutes, and the
    # worker was killed at the end of the grace period (exit code -9).
    assert await worker.stop(grace=30) == 0
    assert "retry handed on: a rebalance or a stop began" in worker.log_tail(200)

    def both_copies(records: list[ConsumerRecord]) -> bool:
        return len(records) >= 2

    copies = await consume_until(settings, topic, both_copies)
    assert [RetryEnvelope.model_validate_json(r.value) for r in copies] == [envelope] * 2
