"""WhatsApp message acks (wa-js ``ACK``, ``whatsapp/enums/ACK.d.ts``) -> Herald statuses.

``chat.msg_ack_change`` carries the new ack of one or more messages. 1 (SENT) is
``sent``, 2 (RECEIVED) ``delivered``, 3 (READ) and 4 (PLAYED) ``read`` -- a played
voice or video message is reported as ``read`` with ``played`` in the metadata.
Negative acks are failures: ``failed`` with the ack's name, lower-cased, as the error
code. 0 (CLOCK: still queued on the device) and 5 (PEER) change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from schemas.status import ErrorInfo, Status

__all__ = ["ACK", "AckOutcome", "ack_outcome"]


class ACK(IntEnum):
    """wa-js 4.6.0 ``ACK`` (``dist/whatsapp/enums/ACK.d.ts``), value for value."""

    MD_DOWNGRADE = -7
    INACTIVE = -6
    CONTENT_UNUPLOADABLE = -5
    CONTENT_TOO_BIG = -4
    CONTENT_GONE = -3
    EXPIRED = -2
    FAILED = -1
    CLOCK = 0
    SENT = 1
    RECEIVED = 2
    READ = 3
    PLAYED = 4
    PEER = 5


@dataclass(frozen=True, slots=True)
class AckOutcome:
    status: Status
    error: ErrorInfo | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


_POSITIVE: dict[int, Status] = {
    ACK.SENT: Status.SENT,
    ACK.RECEIVED: Status.DELIVERED,
    ACK.READ: Status.READ,
    ACK.PLAYED: Status.READ,
}


def ack_outcome(ack: int) -> AckOutcome | None:
    """The status an ack means, or ``None`` when it changes nothing (0, 5, unknown)."""
    if ack in _POSITIVE:
        metadata: dict[str, Any] = {"played": True} if ack == ACK.PLAYED else {}
        return AckOutcome(_POSITIVE[ack], metadata=metadata)
    if ack < 0:
        try:
            name = ACK(ack).name.lower()
        except ValueError:
            name = "failed"
        error = ErrorInfo(
            code=name,
            message=f"WhatsApp reported ack {ack} ({name}) for this message",
            retryable=False,
        )
        return AckOutcome(Status.FAILED, error=error)
    return None
