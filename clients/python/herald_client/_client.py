"""``HeraldClient``: produce notification requests, follow their status events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ValidationError

from ._dedupe import RecentIds
from ._errors import HeraldClientError, HeraldConnectionError, InvalidRequestError
from ._handle import NotificationHandle
from ._trace import producer_span
from ._wire import NotificationRequest, StatusEvent

__all__ = ["HeraldClient"]

log = logging.getLogger("herald_client")

Headers = Mapping[str, str | bytes] | Sequence[tuple[str, bytes]] | None


def _request(request: NotificationRequest | BaseModel | Mapping[str, Any]) -> NotificationRequest:
    if isinstance(request, NotificationRequest):
        return request
    data = request.model_dump(by_alias=True) if isinstance(request, BaseModel) else request
    try:
        return NotificationRequest.model_validate(data)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [
            {"loc": e["loc"], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        where = "; ".join(".".join(map(str, e["loc"])) + ": " + e["msg"] for e in errors)
        raise InvalidRequestError(f"invalid notification request: {where}", errors) from exc


def _headers(headers: Headers) -> list[tuple[str, bytes]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in items]


def _merge(
    headers: list[tuple[str, bytes]], trace_headers: list[tuple[str, bytes]]
) -> list[tuple[str, bytes]]:
    """The caller's headers plus the trace context, which replaces any the caller set."""
    names = {k.lower() for k, _ in trace_headers}
    return [(k, v) for k, v in headers if k.lower() not in names] + trace_headers


def _parse(value: bytes | None) -> StatusEvent | None:
    try:
        return StatusEvent.model_validate_json(value or b"")
    except ValidationError as exc:
        log.warning("skipping a status record that is not a StatusEvent: %s", exc.title)
        return None


class HeraldClient:
    """Send notification requests to Herald and follow their status events.

    Use it as an async context manager. With ``follow_status`` (the default) it reads
    the status topic from its end, from the moment it starts, so that every handle
    :meth:`send` returns sees its notification's events; without, handles cannot wait.
    ``producer_options`` and ``consumer_options`` go to aiokafka (security settings...).
    """

    def __init__(
        self,
        bootstrap_servers: str | Sequence[str] = "localhost:9092",
        *,
        requests_topic: str = "notifications.requests",
        status_topic: str = "notifications.status",
        follow_status: bool = True,
        client_id: str = "herald-client",
        producer_options: Mapping[str, Any] | None = None,
        consumer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.requests_topic = requests_topic
        self.status_topic = status_topic
        self.follow_status = follow_status
        self.client_id = client_id
        self._producer_options = dict(producer_options or {})
        self._consumer_options = dict(consumer_options or {})
        self._producer: AIOKafkaProducer | None = None
        self._follower: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._handles: dict[tuple[str, str], weakref.WeakSet[NotificationHandle]] = {}

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> HeraldClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            acks="all",
            **self._producer_options,
        )
        try:
            await producer.start()
            self._producer = producer
            if self.follow_status:
                await self._start_follower()
        except KafkaError as exc:
            await self.close()
            raise HeraldConnectionError(f"cannot reach Kafka at {self.bootstrap_servers}") from exc
        except BaseException:
            await self.close()
            raise

    async def _start_follower(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            group_id=None,
            enable_auto_commit=False,
            **self._consumer_options,
        )
        await consumer.start()
        self._follower = consumer
        topics = await consumer.topics()
        partitions = consumer.partitions_for_topic(self.status_topic)
        if self.status_topic not in topics or not partitions:
            raise HeraldClientError(f"status topic {self.status_topic!r} does not exist")
        assigned = [TopicPartition(self.status_topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve now: events from here on reach the handles
            await consumer.position(tp)
        self._reader = asyncio.create_task(self._read(consumer), name="herald-client-status")

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        follower, self._follower = self._follower, None
        if follower is not None:
            await follower.stop()
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
        handles, self._handles = self._handles, {}
        closed = HeraldClientError("the client was closed")
        for waiting in handles.values():
            for handle in list(waiting):
                handle._fail(closed)

    # -- sending ---------------------------------------------------------------------------
    async def send(
        self,
        request: NotificationRequest | BaseModel | Mapping[str, Any],
        *,
        headers: Headers = None,
    ) -> NotificationHandle:
        """Validate ``request``, produce it keyed by its tenant id, return its handle.

        Returns once the broker has acknowledged the record. Raises
        :class:`InvalidRequestError` (nothing sent) or :class:`HeraldConnectionError`.
        """
        req = _request(request)
        producer = self._producer
        if producer is None:
            raise HeraldClientError("the client is not started (use `async with HeraldClient`)")
        handle = NotificationHandle(req)
        key = (req.tenant_id, req.id)
        if self.follow_status:
            self._handles.setdefault(key, weakref.WeakSet()).add(handle)
        try:
            with producer_span(self.requests_topic, req.tenant_id, req.id) as trace_headers:
                metadata = await producer.send_and_wait(
                    self.requests_topic,
                    value=req.to_json(),
                    key=req.tenant_id.encode(),
                    headers=_merge(_headers(headers), trace_headers) or None,
                )
        except KafkaError as exc:
            self._forget(key, handle)
            raise HeraldConnectionError(
                f"Kafka did not accept notification {req.id!r}: {exc}"
            ) from exc
        except BaseException:
            self._forget(key, handle)
            raise
        handle.partition = metadata.partition
        handle.offset = metadata.offset
        if not self.follow_status:
            handle._fail(HeraldClientError("the client does not follow statuses"))
        return handle

    def _forget(self, key: tuple[str, str], handle: NotificationHandle) -> None:
        handles = self._handles.get(key)
        if handles is not None:
            handles.discard(handle)
            if not handles:
                del self._handles[key]

    # -- following -------------------------------------------------------------------------
    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        self._dispatch(record.value)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("status reader stopped")
            for handles in list(self._handles.values()):
                for handle in list(handles):
                    handle._fail(exc)

    def _dispatch(self, value: bytes | None) -> None:
        event = _parse(value)
        if event is None:
            return
        key = (event.tenant_id, event.notification_id)
        handles = self._handles.get(key)
        if handles is None:
            return
        if not handles:  # every handle was garbage-collected
            del self._handles[key]
            return
        for handle in list(handles):
            handle._deliver(event)

    async def statuses(
        self,
        tenant: str | None = None,
        *,
        group_id: str | None = None,
        from_beginning: bool = False,
        dedupe_window: int = 100_000,
    ) -> AsyncIterator[StatusEvent]:
        """Every status event (of ``tenant``, if given), typed, once per ``eventId``.

        Without ``group_id``: from now on (``from_beginning``: from the earliest offset).
        With one: from the group's committed offsets; an event counts as handled once the
        loop asks for the next one, and handled events are committed after each batch and
        on close (at-least-once: the event being handled when the loop stopped comes again
        to the group's next reader; the ``eventId`` window drops repeats it remembers).
        Close it (``async with contextlib.aclosing(...)``) or break out of the loop.
        """
        recent = RecentIds(dedupe_window)
        consumer = AIOKafkaConsumer(
            self.status_topic,
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
            **self._consumer_options,
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise HeraldConnectionError(f"cannot reach Kafka at {self.bootstrap_servers}") from exc
        handled: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for tp, records in batches.items():
                    for record in records:
                        event = _parse(record.value)
                        wanted = event is not None and tenant in (None, event.tenant_id)
                        if wanted and event is not None and recent.first_time(event.event_id):
                            yield event
                        # The caller asked for more: this record has been handled.
                        handled[tp] = record.offset + 1
                if group_id is not None and handled:
                    await consumer.commit(handled)
                    handled = {}
        except KafkaError as exc:
            raise HeraldConnectionError(f"reading {self.status_topic!r} failed: {exc}") from exc
        finally:
            if group_id is not None and handled:
                # Closed early: commit what was handled, not the event being handled.
                try:
                    await consumer.commit(handled)
                except KafkaError:
                    log.warning("could not commit status offsets on close", exc_info=True)
            await consumer.stop()
