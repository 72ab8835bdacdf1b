"""Applying delivery reports (webhooks, acks) to notifications: correlate, advance, emit.

Shared by every provider's webhook: the provider-specific part only verifies and
parses; this part finds the notification through its provider message id, keeps the
status monotonic (each status once, never backwards) and emits the status event. A
report for an id not correlated yet is parked and replayed by the router when the
send is recorded.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from providers.webhooks import DeliveryReport
from schemas import Status, StatusEvent
from streams.pipeline.processor import EventSink
from streams.pipeline.state import RANKS, NotificationState, ParkedStatus

__all__ = ["DeliveryReport", "Outcome", "StatusUpdater"]

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    EMITTED = "emitted"
    DUPLICATE = "duplicate"  # not a step forward: already at or past this status
    PARKED = "parked"  # provider message id not correlated yet
    FOREIGN = "foreign"  # correlated to a tenant that did not authenticate the report


class StatusUpdater:
    def __init__(self, state: NotificationState, sink: EventSink) -> None:
        self.state = state
        self.sink = sink
        self.counters: dict[Outcome, int] = dict.fromkeys(Outcome, 0)

    async def apply(self, report: DeliveryReport) -> Outcome:
        payload: dict[str, Any] = {}
        if report.error is not None:
            payload["error"] = report.error.model_dump(by_alias=True)
        found = await self.state.resolve_or_park(
            report.provider,
            report.provider_message_id,
            ParkedStatus(report.status, payload, report.tenants),  # checked on replay
        )
        if found is None:
            log.info(
                "delivery report for an unknown message id parked",
                extra={"provider": report.provider, "status": report.status.value},
            )
            return self._count(Outcome.PARKED)
        tenant_id, notification_id = found
        if report.tenants is not None and tenant_id not in report.tenants:
            log.warning(
                "delivery report for another tenant's message ignored",
                extra={"provider": report.provider, "tenant_id": tenant_id},
            )
            return self._count(Outcome.FOREIGN)
        before = await self.state.get(tenant_id, notification_id)
        record = await self.state.advance(tenant_id, notification_id, report.status)
        if record is None:
            return self._count(Outcome.DUPLICATE)
        event = StatusEvent(
            notification_id=notification_id,
            tenant_id=tenant_id,
            channel=record.channel,
            provider=record.provider or report.provider,
            status=report.status,
            provider_message_id=report.provider_message_id,
            error=report.error,
            metadata={**(record.metadata or {}), **(report.metadata or {})},
        )
        try:
            await self.sink.status(event)
        except BaseException:
            # Not emitted: step back so that the provider's retry of this report counts.
            await self.state.rewind(
                tenant_id, notification_id, before.rank if before else RANKS[Status.SENT]
            )
            raise
        log.debug(
            "delivery status",
            extra={
                "tenant_id": tenant_id,
                "notification_id": notification_id,
                "provider": report.provider,
                "status": report.status.value,
            },
        )
        return self._count(Outcome.EMITTED)

    def _count(self, outcome: Outcome) -> Outcome:
        self.counters[outcome] += 1
        return outcome
