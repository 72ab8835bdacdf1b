"""What the router keeps per notification, as read from Redis: the record, the ranks of
delivery statuses, and delivery reports parked before their send was correlated.

The Redis side (scripts, keys) is :mod:`streams.pipeline.state`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.status import Status

__all__ = [
    "RANKS",
    "TERMINAL_PHASES",
    "NotificationRecord",
    "ParkedStatus",
    "as_text",
    "parked_for",
]

log = logging.getLogger("streams.pipeline.state")  # one logger for the state's messages

#: Delivery status ranks. ``failed`` is special-cased: allowed from any rank below
#: ``read``, and nothing follows it.
RANKS: dict[Status, int] = {
    Status.ACCEPTED: 0,
    Status.SENT: 1,
    Status.DELIVERED: 2,
    Status.READ: 3,
    Status.FAILED: 9,
}

#: Phases after which the router does nothing more for a request ("dispatched": handed
#: over to another worker role, which owns it from then on).
TERMINAL_PHASES = frozenset({"sent", "failed", "rejected", "dispatched", "scheduled"})


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    tenant_id: str
    notification_id: str
    phase: str
    rank: int
    channel: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    metadata: dict[str, Any] | None = None
    attempt: int = 0
    retry: dict[str, Any] | None = None  # the scheduled retry (phase "scheduled")
    #: The Kafka record (``topic:partition:offset``) that created it: a replay of that same
    #: record (after a crash) re-emits what may be missing; another record is a duplicate.
    src: str | None = None
    #: When the phase was last set, and the error a ``failed``/``rejected`` one ended with.
    updated_at: str | None = None
    error: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    @classmethod
    def from_flat(cls, tenant_id: str, notification_id: str, flat: list[Any]) -> NotificationRecord:
        data = {as_text(flat[i]): as_text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}
        meta = data.get("metadata")
        return cls(
            tenant_id=tenant_id,
            notification_id=notification_id,
            phase=data.get("phase", "claimed"),
            rank=int(data.get("rank", "-1")),
            channel=data.get("channel"),
            provider=data.get("provider"),
            provider_message_id=data.get("pmid"),
            metadata=orjson.loads(meta) if meta else None,
            attempt=int(data.get("attempt", "0")),
            retry=orjson.loads(data["retry"]) if data.get("retry") else None,
            src=data.get("src"),
            updated_at=data.get("updatedAt"),
            error=orjson.loads(data["error"]) if data.get("error") else None,
        )


@dataclass(frozen=True, slots=True)
class ParkedStatus:
    """A status that arrived before its provider message id was correlated.

    ``tenants``: the tenants whose credentials authenticated the report (``None``: any).
    Kept with the parked entry, so that the replay applies it only to a notification of
    one of them (:meth:`NotificationState.record_sent` drops the others).
    """

    status: Status
    payload: dict[str, Any]
    tenants: frozenset[str] | None = None

    def to_json(self) -> bytes:
        data: dict[str, Any] = {"status": self.status.value, "payload": self.payload}
        if self.tenants is not None:
            data["tenants"] = sorted(self.tenants)
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes | str) -> ParkedStatus:
        data = orjson.loads(raw)
        tenants = data.get("tenants")
        return cls(
            status=Status(data["status"]),
            payload=data.get("payload") or {},
            tenants=frozenset(str(t) for t in tenants) if isinstance(tenants, list) else None,
        )

    def allows(self, tenant_id: str) -> bool:
        return self.tenants is None or tenant_id in self.tenants


def parked_for(tenant_id: str, provider: str, raw: Sequence[bytes | str]) -> list[ParkedStatus]:
    """The parked reports (as stored) that ``tenant_id`` may apply.

    A report parked for a message id is applied only to a tenant that authenticated it
    (docs/security.md): another tenant's is dropped, and logged.
    """
    found = [ParkedStatus.from_json(p) for p in raw]
    allowed = [p for p in found if p.allows(tenant_id)]
    if len(allowed) < len(found):
        log.warning(
            "parked delivery report of another tenant dropped",
            extra={
                "tenant_id": tenant_id,
                "provider": provider,
                "dropped": len(found) - len(allowed),
            },
        )
    return allowed


def as_text(value: Any) -> str:
    """A Redis reply value as text."""
    return value.decode() if isinstance(value, bytes) else str(value)
