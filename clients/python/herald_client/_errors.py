"""The client's exceptions; Kafka's and pydantic's are translated at the boundary."""

from __future__ import annotations

from typing import Any

from ._wire import StatusEvent

__all__ = [
    "HeraldClientError",
    "HeraldConnectionError",
    "InvalidRequestError",
    "NotificationError",
    "NotificationFailed",
    "NotificationRejected",
]


class HeraldClientError(Exception):
    """Base of every error this package raises (but :class:`TimeoutError`)."""


class HeraldConnectionError(HeraldClientError):
    """Kafka could not be reached, or did not accept a record."""


class InvalidRequestError(HeraldClientError, ValueError):
    """The request does not match Herald's wire model; nothing was sent.

    ``errors`` lists pydantic's error dicts (location, message, type; never the input).
    """

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


class NotificationError(HeraldClientError):
    """The notification ended without reaching the awaited status; ``event`` says why."""

    def __init__(self, event: StatusEvent) -> None:
        error = event.error
        detail = f"{error.code}: {error.message}" if error else "no error detail"
        super().__init__(
            f"notification {event.notification_id!r} of tenant {event.tenant_id!r} "
            f"{event.status.value}: {detail}"
        )
        self.event = event

    @property
    def code(self) -> str | None:
        return self.event.error.code if self.event.error else None


class NotificationFailed(NotificationError):
    """Herald gave up delivering the notification (status ``failed``)."""


class NotificationRejected(NotificationError):
    """Herald refused the request (status ``rejected``): invalid, unknown provider..."""
