"""The handle :meth:`HeraldClient.send` returns: one notification's status events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ._errors import HeraldClientError, NotificationFailed, NotificationRejected
from ._wire import NotificationRequest, Status, StatusEvent

__all__ = ["NotificationHandle", "reached"]

#: Progress of a notification; ``failed`` and ``rejected`` end it anywhere.
_RANK = {
    Status.ACCEPTED: 0,
    Status.RETRYING: 1,
    Status.SENT: 2,
    Status.DELIVERED: 3,
    Status.READ: 4,
}
_FINAL = frozenset({Status.FAILED, Status.REJECTED, Status.READ})


def reached(event: StatusEvent, target: Status) -> bool:
    """True when ``event`` satisfies a wait for ``target``; raises when it never will.

    A progress status is reached by itself or any later one (``sent`` by ``delivered``);
    ``failed`` and ``rejected`` raise unless they are the target.
    """
    if event.status == target:
        return True
    if event.status == Status.REJECTED:
        raise NotificationRejected(event)
    if event.status == Status.FAILED:
        if target == Status.REJECTED:
            return False
        raise NotificationFailed(event)
    if target in _RANK:
        return _RANK[event.status] >= _RANK[target]
    return False


class NotificationHandle:
    """One sent notification: its request, where it was written, its status events.

    Events arrive from the client's status reader; each is kept once (by ``eventId``).
    """

    def __init__(self, request: NotificationRequest) -> None:
        self.request = request
        self.partition: int | None = None
        self.offset: int | None = None
        self._events: list[StatusEvent] = []
        self._seen: set[str] = set()
        self._changed = asyncio.Event()
        self._error: BaseException | None = None

    @property
    def tenant_id(self) -> str:
        return self.request.tenant_id

    @property
    def notification_id(self) -> str:
        return self.request.id

    @property
    def received(self) -> list[StatusEvent]:
        """The events received so far, in order (a copy)."""
        return list(self._events)

    def __repr__(self) -> str:
        last = self._events[-1].status.value if self._events else None
        return f"<NotificationHandle {self.tenant_id}/{self.notification_id} last={last}>"

    # -- fed by the client -----------------------------------------------------------------
    def _deliver(self, event: StatusEvent) -> None:
        if event.event_id in self._seen:
            return
        self._seen.add(event.event_id)
        self._events.append(event)
        self._notify()

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _check(self) -> None:
        if self._error is not None:
            raise HeraldClientError(f"status reader stopped: {self._error}") from self._error

    # -- public ----------------------------------------------------------------------------
    async def wait(
        self,
        status: Status | str = Status.SENT,
        timeout: float | None = 30.0,  # noqa: ASYNC109 - the API the issue asks for
    ) -> StatusEvent:
        """The first event at ``status`` or later; :class:`TimeoutError` after ``timeout``.

        Raises :class:`NotificationFailed` or :class:`NotificationRejected` (carrying the
        event) when the notification ends without reaching ``status``.
        """
        target = Status(status)
        async with asyncio.timeout(timeout):
            index = 0
            while True:
                for event in self._events[index:]:
                    if reached(event, target):
                        return event
                index = len(self._events)
                self._check()
                await self._changed.wait()

    async def events(self) -> AsyncIterator[StatusEvent]:
        """Every event of the notification, in order, from the first; ends after a final
        one (``failed``, ``rejected``, ``read``). Bound it with :func:`asyncio.timeout`."""
        index = 0
        while True:
            while index < len(self._events):
                event = self._events[index]
                index += 1
                yield event
                if event.status in _FINAL:
                    return
            self._check()
            await self._changed.wait()
