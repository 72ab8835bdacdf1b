"""The Kafka side of :class:`streams.pipeline.processor.EventSink`, through Faust's producer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from schemas import NotificationRequest, StatusEvent
from schemas.retry import RetryEnvelope
from streams.pipeline.decode import DeadLetter, RawRecord

if TYPE_CHECKING:
    from streams.platform.topics import Topics

__all__ = ["FaustSink", "MemorySink"]


class FaustSink:
    """Sends through Faust's producer and waits for the broker's acknowledgement."""

    def __init__(self, topics: Topics) -> None:
        self._topics = topics

    async def _send(self, topic: Any, key: bytes | None, value: bytes | None, headers: Any) -> None:
        pending = await topic.send(key=key, value=value, headers=headers)
        await pending  # resolves when the broker has acknowledged the record

    async def status(self, event: StatusEvent) -> None:
        await self.emit_statuses([event])

    async def emit_statuses(self, events: Sequence[StatusEvent]) -> None:
        """Produce status events in order, then await their acknowledgements together.

        The one place status events leave the router: every path (one event or a batch)
        goes through here. All of them are handed to the producer before any
        acknowledgement is awaited, so the producer batches them per partition.
        """
        topic = self._topics.status
        # Straight to Faust's producer (the aiokafka one): the topic's send adds a
        # FutureMessage, callbacks and sensors per record that the router does not use.
        producer, name = topic.app.producer, topic.get_topic_name()
        pending = [
            await producer.send(name, e.tenant_id.encode(), e.to_json(), None, None, None)
            for e in events
        ]
        for future in pending:
            await future  # resolves when the broker has acknowledged the record

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
        await self.emit_statuses([event])

    async def emit_statuses(self, events: Sequence[StatusEvent]) -> None:
        self.statuses.extend(events)
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
