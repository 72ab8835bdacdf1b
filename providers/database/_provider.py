"""The ``database`` provider: the in-app inbox, one row per notification in Herald's database.

"Sending" is storing the notification for ``recipient.userId`` (idempotently, on the
tenant and notification id); the user's app then reads its inbox through the worker's
``/inbox`` endpoints, and marking a notification read emits ``read`` on the status topic.
The database store is a worker resource (:class:`InboxStore`), injected through
:class:`providers.base.Resources`.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from providers.base import Provider, ProviderInfo, SendResult
from providers.database._credentials import DatabaseCredentials
from providers.database._store import InboxStore
from schemas.credentials_base import BaseCredentials
from schemas.errors import InvalidRequest, PermanentError
from schemas.notification import Channel, NotificationRequest
from schemas.status import ErrorCode

__all__ = ["DatabaseProvider"]

log = logging.getLogger(__name__)

#: Content the inbox cannot show: it stores subject, body and HTML.
_UNSUPPORTED = ("media", "location", "contact")


class DatabaseProvider(Provider[DatabaseCredentials]):
    name: ClassVar[str] = "database"
    display_name: ClassVar[str] = "Database Inbox"
    channel: ClassVar[Channel] = Channel.DATABASE
    credentials_model: ClassVar[type[BaseCredentials]] = DatabaseCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(
        content_types=("text", "html"),
        features=("inbox", "read_receipts", "archive", "cursor_pagination", "idempotent_store"),
        docs_url=None,
    )
    requires: ClassVar[tuple[type, ...]] = (InboxStore,)
    needs_integration: ClassVar[bool] = False

    def validate(self, request: NotificationRequest) -> None:
        user_id = request.recipient.user_id
        if user_id is None or not user_id.strip():
            raise InvalidRequest(ErrorCode.INVALID_RECIPIENT, "the inbox needs recipient.userId")
        content = request.content
        present = [name for name in _UNSUPPORTED if getattr(content, name) is not None]
        if present:
            raise InvalidRequest(
                ErrorCode.UNSUPPORTED_CONTENT,
                f"the inbox stores subject, body and html; not {', '.join(present)}",
            )
        if not (content.body or content.subject or content.html):
            raise InvalidRequest(
                ErrorCode.UNSUPPORTED_CONTENT, "the inbox needs content.body, subject or html"
            )

    def format_payload(self, request: NotificationRequest) -> dict[str, Any]:
        """The row's content columns (the store adds ids and timestamps)."""
        content = request.content
        return {
            "user_id": request.recipient.user_id,
            "subject": content.subject,
            "body": content.body,
            "html": content.html,
            "metadata": request.metadata,
        }

    async def send(self, request: NotificationRequest) -> SendResult:
        try:
            store = self.resources.get(InboxStore)
        except LookupError as exc:
            raise PermanentError(
                ErrorCode.PROVIDER_ERROR, "this worker has no inbox database configured"
            ) from exc
        row, created = await store.store(request, provider=self.name)
        log.info(
            "notification stored in the inbox" if created else "inbox notification already stored",
            extra=self.log_extra(request, provider_message_id=str(row.id)),
        )
        return SendResult(
            provider_message_id=str(row.id), metadata={"rowId": row.id, "stored": created}
        )
