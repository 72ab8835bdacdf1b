"""The Kafka side of :class:`streams.pipeline.processor.EventSink`, through Faust's producer."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiokafka.errors import MessageSizeTooLargeError

from schemas import NotificationRequest, StatusEvent
from schemas.retry import RetryEnvelope
from streams.pipeline.decode import DeadLetter, RawRecord
from streams.platform.tracing import produce_span, status_headers, tracing_on
from streams.platform.waiting import ChangeWaiter

if TYPE_CHECKING:
    from streams.platform.outbox import OutboxJob, StatusOutbox
    from streams.platform.topics import Topics

__all__ = ["TRUNCATED_HEADER", "FaustSink", "MemorySink", "fit_dead_letter"]


#: Room kept for a record's key, headers and the producer's framing when truncating.
_TRUNCATION_MARGIN = 16_384
TRUNCATED_HEADER = "herald-dlq-truncated-from"


def fit_dead_letter(letter: DeadLetter, max_record_bytes: int) -> tuple[bytes | None, list[Any]]:
    """The dead letter's value and headers, its value truncated if the whole would not fit.

    The record's own headers and the ``herald-dlq-*`` headers are kept; a truncated value
    gets ``herald-dlq-truncated-from: <original length>``.
    """
    headers: list[tuple[str, bytes]] = [*letter.record.headers, *letter.info.headers()]
    value = letter.record.value
    size = len(value or b"") + len(letter.record.key or b"")
    size += sum(len(k) + len(v) for k, v in headers)
    if value is None or size + _TRUNCATION_MARGIN <= max_record_bytes:
        return value, headers
    keep = max(0, max_record_bytes - _TRUNCATION_MARGIN - (size - len(value)))
    headers.append((TRUNCATED_HEADER, str(len(value)).encode()))
    return value[:keep], headers


class FaustSink:
    """Sends through Faust's producer and waits for the broker's acknowledgement."""

    def __init__(
        self,
        topics: Topics,
        outbox: StatusOutbox | None = None,
        *,
        max_record_bytes: int = 1_048_576,
    ) -> None:
        self._topics = topics
        self._outbox = outbox
        self._max_record_bytes = max_record_bytes

    async def _send(self, topic: Any, key: bytes | None, value: bytes | None, headers: Any) -> None:
        # A PRODUCER span under the current one; the record carries its context on.
        with produce_span(topic.get_topic_name(), headers) as traced:
            pending = await topic.send(key=key, value=value, headers=traced or headers)
        await pending  # resolves when the broker has acknowledged the record

    async def status(self, event: StatusEvent) -> None:
        await self.emit_statuses([event])

    async def emit_statuses(
        self, events: Sequence[StatusEvent], owners: Sequence[OutboxJob | None] | None = None
    ) -> None:
        """Produce status events in order, then await their acknowledgements together.

        The one place status events leave the router: every path (one event or a batch)
        goes through here. All of them are handed to the producer before any
        acknowledgement is awaited, so the producer batches them per partition.
        With the outbox (HOOK(outbox)), the partition is Herald's choice (murmur2 of the
        tenant) and an ``eventId`` already on the topic is not produced again;
        ``owners[i]`` is the consumed record ``events[i]`` belongs to.
        """
        topic = self._topics.status
        # Straight to Faust's producer (the aiokafka one): the topic's send adds a
        # FutureMessage, callbacks and sensors per record that the router does not use.
        producer, name = topic.app.producer, topic.get_topic_name()
        # Trace headers now, before the first await: a chunk's `accepted` events are handed
        # over before its jobs run, so they name the span remembered at that moment (the
        # producer's), never a job's that started meanwhile (docs/tracing.md).
        traced = (
            {id(e): status_headers(name, e.tenant_id, e.notification_id) for e in events}
            if tracing_on()
            else {}
        )
        if self._outbox is None:
            pending = [
                await producer.send(
                    name, e.tenant_id.encode(), e.to_json(), None, None, traced.get(id(e))
                )
                for e in events
            ]
            for future in pending:
                await future  # resolves when the broker has acknowledged the record
            return

        async def enqueue(event: StatusEvent, partition: int) -> Awaitable[int]:
            future = await producer.send(
                name,
                event.tenant_id.encode(),
                event.to_json(),
                partition,
                None,
                traced.get(id(event)),
            )
            return _offset(future)

        await self._outbox.send_many(events, enqueue, owners)

    async def dead_letter(self, letter: DeadLetter) -> None:
        value, headers = fit_dead_letter(letter, self._max_record_bytes)
        await self._send(self._topics.dlq, letter.record.key, value, headers)

    async def forward(self, record: RawRecord, key: bytes) -> None:
        await self._send(self._topics.requests, key, record.value, list(record.headers))

    async def handoff(self, role: str, request: NotificationRequest) -> None:
        topic = self._topics.dispatch_topic(role)
        await self._send(topic, request.tenant_id.encode(), request.to_json(), None)

    async def retry(self, topic: str, envelope: RetryEnvelope) -> None:
        key = envelope.request.tenant_id.encode()
        await self._send(self._topics.retry[topic], key, envelope.to_json(), None)


async def _offset(future: Awaitable[Any]) -> int:
    metadata = await future  # resolves when the broker has acknowledged the record
    return int(metadata.offset)


class MemorySink(ChangeWaiter):
    """A built-in fake sink for tests and tools: keeps everything in lists.

    ``wait_for(predicate)`` returns once ``predicate(self)`` is truthy, re-checked on
    every emission (bound it with ``asyncio.timeout``).
    """

    def __init__(self, *, max_record_bytes: int | None = None) -> None:
        super().__init__()
        #: When set, a record larger than this is refused as the producer would refuse
        #: it (``MessageSizeTooLargeError``), and dead letters are fitted as FaustSink does.
        self.max_record_bytes = max_record_bytes
        self.statuses: list[StatusEvent] = []
        self.dead_letters: list[DeadLetter] = []
        self.forwarded: list[tuple[RawRecord, bytes]] = []
        self.handed_off: list[tuple[str, NotificationRequest]] = []
        self.retries: list[tuple[str, RetryEnvelope]] = []

    async def status(self, event: StatusEvent) -> None:
        await self.emit_statuses([event])

    def _check(self, *sizes: int) -> None:
        if self.max_record_bytes is not None and sum(sizes) > self.max_record_bytes:
            raise MessageSizeTooLargeError(f"{sum(sizes)} bytes > {self.max_record_bytes}")

    async def emit_statuses(
        self, events: Sequence[StatusEvent], owners: Sequence[OutboxJob | None] | None = None
    ) -> None:
        for event in events:
            self._check(len(event.to_json()), len(event.tenant_id))
        self.statuses.extend(events)
        self._notify()

    async def dead_letter(self, letter: DeadLetter) -> None:
        if self.max_record_bytes is not None:
            value, headers = fit_dead_letter(letter, self.max_record_bytes)
            self._check(len(value or b""), *(len(k) + len(v) for k, v in headers))
            record = replace(letter.record, value=value, headers=headers)
            letter = replace(letter, record=record)
        self.dead_letters.append(letter)
        self._notify()

    async def forward(self, record: RawRecord, key: bytes) -> None:
        self._check(len(record.value or b""), len(key))
        self.forwarded.append((record, key))
        self._notify()

    async def handoff(self, role: str, request: NotificationRequest) -> None:
        self._check(len(request.to_json()))
        self.handed_off.append((role, request))
        self._notify()

    async def retry(self, topic: str, envelope: RetryEnvelope) -> None:
        self._check(len(envelope.to_json()))
        self.retries.append((topic, envelope))
        self._notify()

    def of(self, notification_id: str) -> list[StatusEvent]:
        return [e for e in self.statuses if e.notification_id == notification_id]
