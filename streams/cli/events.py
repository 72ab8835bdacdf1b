"""Reading Herald's topics for people: one line per record, or its JSON.

:func:`status_line` is the line ``herald send --wait`` and ``herald tail`` print for a
status event; :func:`decode_record` turns a record of any of Herald's topics into a
:class:`Decoded` (its line, its JSON, and what filters and de-duplication need).
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import NotificationRequest, Settings, StatusEvent
from schemas.dlq import DLQ_HEADER_PREFIX
from schemas.retry import RetryEnvelope

__all__ = ["Decoded", "SeenIds", "decode_record", "status_line"]


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_line(event: StatusEvent) -> str:
    """``TIME STATUS TENANT ID PROVIDER DETAIL``: what happened to one notification."""
    detail = ""
    if event.error is not None:
        detail = f"error {event.error.code}: {event.error.message}"
    elif event.provider_message_id:
        detail = f"message id {event.provider_message_id}"
    if event.next_attempt_at is not None:
        detail = f"{detail}; attempt {event.attempt + 1} at {_time(event.next_attempt_at)}"
    parts = [
        _time(event.timestamp),
        f"{event.status.value:<9}",
        event.tenant_id,
        event.notification_id,
        event.provider or "-",
        detail.lstrip("; "),
    ]
    return "  ".join(parts).rstrip()


@dataclass(frozen=True, slots=True)
class Decoded:
    """One record of one of Herald's topics, decoded."""

    topic: str
    line: str
    value: Any  # the record's value as JSON data (or base64 text when not JSON)
    tenant_id: str | None = None
    status: str | None = None
    event_id: str | None = None


def _headers(raw: Any) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in raw or ()}


def _request_line(request: NotificationRequest) -> str:
    provider = request.provider or "(tenant default)"
    return f"request    {request.tenant_id}  {request.id}  {request.channel.value}  {provider}"


def decode_record(
    settings: Settings, topic: str, key: bytes | None, value: bytes | None, headers: Any
) -> Decoded:
    """Decode by topic: status events, requests, retry envelopes, dead letters, others."""
    tenant = key.decode(errors="replace") if key else None
    raw = value or b""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    try:
        if topic == settings.topic_status:
            event = StatusEvent.model_validate_json(raw)
            return Decoded(
                topic,
                status_line(event),
                orjson.loads(event.to_json()),
                event.tenant_id,
                event.status.value,
                event.event_id,
            )
        if topic in (settings.topic_requests, settings.topic_whatsapp_dispatch):
            request = NotificationRequest.model_validate_json(raw)
            return Decoded(topic, _request_line(request), data, request.tenant_id)
        if topic in settings.retry_topics.values():
            env = RetryEnvelope.model_validate_json(raw)
            line = (
                f"retry      {env.request.tenant_id}  {env.request.id}  attempt {env.attempt} "
                f"via {env.provider} due {_time(env.due_at)} ({env.reason.value})"
            )
            return Decoded(topic, line, data, env.request.tenant_id)
    except ValidationError:
        pass  # shown below as what it is
    if topic == settings.topic_dlq:
        info = {
            k[len(DLQ_HEADER_PREFIX) :]: v
            for k, v in _headers(headers).items()
            if k.startswith(DLQ_HEADER_PREFIX)
        }
        line = (
            f"dead letter  {tenant or '-'}  {info.get('reason', '?')}: {info.get('detail', '')} "
            f"(from {info.get('topic', '?')}/{info.get('partition', '?')}@{info.get('offset', '?')})"
        )
        shown = data if data is not None else base64.b64encode(raw).decode()
        return Decoded(topic, line, {"deadLetter": info, "value": shown}, tenant)
    if data is None:
        line = f"undecodable  {tenant or '-'}  {len(raw)} bytes"
        return Decoded(topic, line, base64.b64encode(raw).decode(), tenant)
    if isinstance(data, dict):
        tenant = str(data.get("tenantId") or tenant or "-")
        fields = ", ".join(f"{k}={v}" for k, v in data.items() if isinstance(v, str | int | float))
        return Decoded(topic, f"{tenant}  {fields[:300]}", data, tenant)
    return Decoded(topic, orjson.dumps(data).decode()[:300], data, tenant)


class SeenIds:
    """The last ``size`` event ids seen: a repeated status event is shown once."""

    def __init__(self, size: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True
