"""The in-app inbox's HTTP answers (``GET /inbox/{tenantId}/{userId}`` and friends)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from schemas._base import WireModel

__all__ = ["InboxError", "InboxFeed", "InboxItem"]


class InboxItem(WireModel):
    """One notification in a user's inbox. ``readAt``/``archivedAt`` are null until then."""

    notification_id: str
    user_id: str
    channel: str
    subject: str | None = None
    body: str | None = None
    html: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    read_at: datetime | None = None
    archived_at: datetime | None = None


class InboxFeed(WireModel):
    """A page of the feed, newest first. Pass ``nextCursor`` back as ``?cursor=`` for the
    next page; it is null on the last page. ``unreadCount`` counts the user's unread,
    unarchived notifications (all of them, not only this page's)."""

    items: list[InboxItem]
    next_cursor: str | None = None
    unread_count: int


class InboxError(WireModel):
    """Every error answer: ``error`` is a stable code, ``message`` says what to fix."""

    error: str
    message: str
