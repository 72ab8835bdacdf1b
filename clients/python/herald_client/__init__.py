"""Herald's Python client: send notification requests, follow their status events.

    async with HeraldClient("localhost:9092") as client:
        handle = await client.send({...})
        event = await handle.wait("sent", timeout=30)

The request and status models are Herald's own wire models (copied from its
``schemas/`` package, checked by Herald's tests).
"""

from __future__ import annotations

from ._client import HeraldClient
from ._dedupe import RecentIds
from ._errors import (
    HeraldClientError,
    HeraldConnectionError,
    InvalidRequestError,
    NotificationError,
    NotificationFailed,
    NotificationRejected,
)
from ._handle import NotificationHandle
from ._wire import (
    Channel,
    Contact,
    Content,
    ErrorCode,
    ErrorInfo,
    Location,
    Media,
    NotificationRequest,
    Recipient,
    Status,
    StatusEvent,
)

__all__ = [
    "Channel",
    "Contact",
    "Content",
    "ErrorCode",
    "ErrorInfo",
    "HeraldClient",
    "HeraldClientError",
    "HeraldConnectionError",
    "InvalidRequestError",
    "Location",
    "Media",
    "NotificationError",
    "NotificationFailed",
    "NotificationHandle",
    "NotificationRejected",
    "NotificationRequest",
    "RecentIds",
    "Recipient",
    "Status",
    "StatusEvent",
]
