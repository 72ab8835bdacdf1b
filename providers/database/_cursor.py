"""Opaque keyset cursors for the inbox feed.

The feed is ordered by ``(created_at DESC, id DESC)``; a cursor names the last row of a
page, and the next page is every row strictly after it in that order. Unlike an offset,
a cursor stays correct while new notifications arrive at the top. On the wire it is
URL-safe base64 of ``["v1", "<created_at ISO 8601>", <row id>]``; clients must treat it
as opaque.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

__all__ = ["Cursor", "InvalidCursor"]

_VERSION = "v1"
_MAX_LENGTH = 256
#: Row ids are PostgreSQL ``BIGINT`` (SQLite ``INTEGER``): a forged cursor beyond that range
#: would fail in the driver (a 500) instead of being refused here (a 400).
_MAX_ID = 2**63 - 1


class InvalidCursor(ValueError):
    """The cursor was not made by :meth:`Cursor.encode` (or was altered)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: int

    def encode(self) -> str:
        raw = orjson.dumps([_VERSION, self.created_at.astimezone(UTC).isoformat(), self.id])
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, token: str) -> Cursor:
        if not token or len(token) > _MAX_LENGTH:
            raise InvalidCursor("cursor is empty or too long")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = orjson.loads(raw)
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursor("cursor is not one this server issued") from exc
        if (
            not isinstance(data, list)
            or len(data) != 3
            or data[0] != _VERSION
            or not isinstance(data[1], str)
            or not isinstance(data[2], int)
            or isinstance(data[2], bool)
            or not 0 < data[2] <= _MAX_ID
        ):
            raise InvalidCursor("cursor is not one this server issued")
        try:
            created_at = datetime.fromisoformat(data[1])
            if created_at.tzinfo is None:
                raise ValueError("naive timestamp")
            created_at = created_at.astimezone(UTC)  # year 1 or 9999 with an offset overflows
        except (ValueError, OverflowError) as exc:
            raise InvalidCursor("cursor has an invalid timestamp") from exc
        return cls(created_at=created_at, id=data[2])
