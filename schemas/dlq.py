"""Dead letters: undecodable input, kept byte for byte on ``notifications.dlq``.

A dead letter's Kafka value and key are the original bytes, unchanged; its headers
are the original headers followed by the ``herald-dlq-*`` headers described by
:class:`DeadLetterInfo` (each value UTF-8).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from schemas._base import WireModel
from schemas.status import utcnow

__all__ = ["DLQ_HEADER_PREFIX", "DeadLetterInfo", "DeadLetterReason"]

DLQ_HEADER_PREFIX = "herald-dlq-"


class DeadLetterReason(StrEnum):
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_ID = "missing_id"
    MISSING_TENANT = "missing_tenant"
    INVALID_TENANT = "invalid_tenant"
    INVALID_COMMAND = "invalid_command"  # whatsapp.commands: not a SessionCommand


class DeadLetterInfo(WireModel):
    """Where a dead letter came from and why. Sent as ``herald-dlq-<field>`` headers."""

    reason: DeadLetterReason
    detail: str
    topic: str
    partition: int
    offset: int
    timestamp: datetime = Field(default_factory=utcnow)

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            (DLQ_HEADER_PREFIX + "reason", self.reason.value.encode()),
            (DLQ_HEADER_PREFIX + "detail", self.detail.encode()[:1024]),
            (DLQ_HEADER_PREFIX + "topic", self.topic.encode()),
            (DLQ_HEADER_PREFIX + "partition", str(self.partition).encode()),
            (DLQ_HEADER_PREFIX + "offset", str(self.offset).encode()),
            (DLQ_HEADER_PREFIX + "timestamp", self.timestamp.isoformat().encode()),
        ]

    @classmethod
    def from_headers(cls, headers: list[tuple[str, bytes]]) -> DeadLetterInfo:
        found = {
            k[len(DLQ_HEADER_PREFIX) :]: v.decode()
            for k, v in headers
            if k.startswith(DLQ_HEADER_PREFIX)
        }
        return cls.model_validate(found)
