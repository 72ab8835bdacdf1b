"""The Kafka side of :class:`streams.pipeline.processor.EventSink`, through Faust's producer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from schemas import NotificationRequest, StatusEvent
from schemas.retry import RetryEnvelope
from streams.pipeline.decode import DeadLetter, RawRecord

if TYPE_CHECKING:
    from streams.platform.outbox import StatusOutbox
    from streams.platform.topics import Topics

__all__ = ["FaustSink", "MemorySink"]


class FaustSink:
    """Sends through Faust's producer and waits for the broker's acknowledgement."""

    def __init__(self, topics: Topics, outbox: StatusOutbox | None = None) -> None:
        self._topics = topics
        self._outbox = outbox

    async def _send(
        self,
        topic: Any,
        key: bytes | None,
        value: bytes | None,
        headers: Any,
        partition: int | None = None,
    ) -> int:
        pending = await topic.send(key=key, value=value, headers=headers, partition=partition)
        metadata = await pending  # resolves when the broker has acknowledged the record
        return int(metadata.offset)

    async def status(self, event: StatusEvent) -> None:
        key, value = event.tenant_id.encode(), event.to_json()
        if self._outbox is None:
            await self._send(self._topics.status, key, value, None)
            return
        # HOOK(outbox): the partition is Herald's choice, and an eventId already on the
        # topic is not produced again (streams/platform/outbox.py).
        await self._outbox.send(
            event, lambda partition: self._send(self._topics.status, key, value, None, partition)
        )

    async def dead_letter(self, letter: DeadLetter) -> None:
        headers = [*letter.record.headers, *letter.info.headers()]
        await self._send(self._topics.dlq, letter.record.key, letter.record.value, headers)

    async def forward(self, record: RawRecord, key: bytes) -> None:
        await self._send(self._topics.requests, key, record.value, list(record.headers))

    async def handoff(self, role: str, request: NotificationRequest) -> None:
        topic = self._topics.dispatch_topic(role)
        await self._send(topic, request.tenant_id.encode(), request.to_json(), None)

    async def retry(self, topic: str, envelope: RetryEnvelope) -> None:
        key = envelope.request.tenant_id.encode()
        await self._send(self._topics.retry[topic], key, envelope.to_json(), None)


_T = TypeVar("_T")


class MemorySink:
    """A built-in fake sink for tests and tools: keeps everything in lists.

    ``wait_for(predicate)`` returns once ``predicate(self)`` is truthy, re-checked on
    every emission (bound it with ``asyncio.timeout``).
    """

    def __init__(self) -> None:
        self.statuses: list[StatusEvent] = []
        self.dead_letters: list[DeadLetter] = []
        self.forwarded: list[tuple[RawRecord, bytes]] = []
        self.handed_off: list[tuple[str, NotificationRequest]] = []
        self.retries: list[tuple[str, RetryEnvelope]] = []
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def status(self, event: StatusEvent) -> None:
        self.statuses.append(event)
        self._notify()

    async def dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letters.append(letter)
        self._notify()

    async def forward(self, record: RawRecord, key: bytes) -> None:
        self.forwarded.append((record, key))
        self._notify()

    async def handoff(self, role: str, request: NotificationRequest) -> None:
        self.handed_off.append((role, request))
        self._notify()

    async def retry(self, topic: str, envelope: RetryEnvelope) -> None:
        self.retries.append((topic, envelope))
        self._notify()

    def of(self, notification_id: str) -> list[StatusEvent]:
        return [e for e in self.statuses if e.notification_id == notification_id]

    async def wait_for(self, predicate: Callable[[MemorySink], _T]) -> _T:
        while True:
            changed = self._changed
            result = predicate(self)
            if result:
                return result
            await changed.wait()
