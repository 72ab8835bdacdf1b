"""Turning raw Kafka records into requests, rejections or dead letters (pure, no I/O).

Three outcomes, in order of how much we could read:

* :class:`DeadLetter` -- the bytes are not a request we can even address (too large,
  not JSON, not an object, no usable ``id`` or ``tenantId``). Kept byte for byte.
* :class:`Invalid` -- we know the tenant and the id, but the request breaks the
  schema: it will get a ``rejected`` status with code ``invalid_request``.
* :class:`Decoded` -- a valid :class:`~schemas.NotificationRequest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import (
    TENANT_ID_PATTERN,
    DeadLetterInfo,
    DeadLetterReason,
    NotificationRequest,
    Settings,
)
from schemas._base import is_tenant_id

__all__ = [
    "DeadLetter",
    "Decoded",
    "Invalid",
    "RawRecord",
    "dead_letter_for",
    "decode",
    "decode_record",
    "ordering_key",
]

_MAX_ID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A Kafka record as consumed: bytes untouched."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: RawRecord
    info: DeadLetterInfo


@dataclass(frozen=True, slots=True)
class Invalid:
    tenant_id: str
    notification_id: str
    message: str
    channel: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Decoded:
    request: NotificationRequest


def dead_letter_for(record: RawRecord, reason: DeadLetterReason, detail: str) -> DeadLetter:
    """``record`` as a dead letter: the reason, ``detail`` (1 KiB at most), where it was."""
    info = DeadLetterInfo(
        reason=reason,
        detail=detail[:1024],
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )
    return DeadLetter(record=record, info=info)


def _summarize(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:10]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether objects/arrays nest deeper than ``limit`` (iterative: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _bounded_metadata(metadata: Any, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The metadata to echo in a rejection: only if it is an object within the limits."""
    if not isinstance(metadata, dict) or _too_deep(metadata, max_depth):
        return {}
    if len(orjson.dumps(metadata)) > max_bytes:
        return {}
    return metadata


def decode(
    record: RawRecord,
    *,
    max_bytes: int,
    max_depth: int = 32,
    max_metadata_bytes: int = 16_384,
) -> DeadLetter | Invalid | Decoded:
    value = record.value
    if value is None or len(value) == 0:
        return dead_letter_for(record, DeadLetterReason.NOT_JSON, "empty value")
    if len(value) > max_bytes:
        return dead_letter_for(
            record, DeadLetterReason.TOO_LARGE, f"{len(value)} bytes > limit of {max_bytes}"
        )
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        reason = (
            DeadLetterReason.NOT_UTF8 if "utf-8" in str(exc).lower() else DeadLetterReason.NOT_JSON
        )
        return dead_letter_for(record, reason, str(exc))
    if not isinstance(data, dict):
        return dead_letter_for(
            record, DeadLetterReason.NOT_AN_OBJECT, f"top-level JSON is {type(data).__name__}"
        )
    notification_id = data.get("id")
    if not isinstance(notification_id, str) or not 0 < len(notification_id) <= _MAX_ID_LENGTH:
        return dead_letter_for(
            record, DeadLetterReason.MISSING_ID, "`id` must be a string of 1-256 chars"
        )
    tenant_id = data.get("tenantId", data.get("tenant_id"))
    if not isinstance(tenant_id, str) or not tenant_id:
        return dead_letter_for(
            record, DeadLetterReason.MISSING_TENANT, "`tenantId` must be a non-empty string"
        )
    if not is_tenant_id(tenant_id):  # full match: "acme\n" is refused
        return dead_letter_for(
            record, DeadLetterReason.INVALID_TENANT, f"`tenantId` must match {TENANT_ID_PATTERN}"
        )
    channel = data.get("channel")

    def invalid(message: str, metadata: dict[str, Any]) -> Invalid:
        return Invalid(
            tenant_id=tenant_id,
            notification_id=notification_id,
            message=message,
            channel=channel if isinstance(channel, str) and len(channel) <= 64 else None,
            metadata=metadata,
        )

    # Limits pydantic does not check: nesting (orjson reads 1,024 levels, pydantic cannot
    # serialize them back) and the size of the metadata every status event carries.
    if _too_deep(data, max_depth):
        return invalid(f"JSON nested deeper than {max_depth} levels", {})
    metadata = data.get("metadata")
    if len(value) > max_metadata_bytes and isinstance(metadata, dict):
        size = len(orjson.dumps(metadata))
        if size > max_metadata_bytes:
            return invalid(f"metadata: {size} bytes > limit of {max_metadata_bytes}", {})
    try:
        request = NotificationRequest.model_validate(data)
    except ValidationError as exc:
        return invalid(_summarize(exc), _bounded_metadata(metadata, max_metadata_bytes, max_depth))
    return Decoded(request=request)


def decode_record(record: RawRecord, settings: Settings) -> DeadLetter | Invalid | Decoded:
    """:func:`decode` with the limits of ``settings``."""
    return decode(
        record,
        max_bytes=settings.max_request_bytes,
        max_depth=settings.max_json_depth,
        max_metadata_bytes=settings.max_metadata_bytes,
    )


def ordering_key(request: NotificationRequest) -> str:
    """Requests with the same key are processed in order; others overlap freely."""
    r = request.recipient
    address = r.phone or r.email or r.device_token or r.user_id or ""
    return f"{request.tenant_id}\x00{request.channel.value}\x00{address}"
