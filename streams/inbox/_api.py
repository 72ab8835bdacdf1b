"""The inbox endpoints' logic, free of any web framework (``streams.web.inbox`` adapts it).

Every call authenticates first: ``Authorization: Bearer <key>`` (or ``X-Api-Key``) must be
an API key of the tenant in the path with the ``inbox`` scope (:class:`TenantKeys`): none,
unknown or expired -> 401, another tenant's or one without the scope -> 403. Then the user's notification must exist -> else 404.

Marking read is the one call with an effect outside the database: the first time (the
``read_at`` update is the once-guard, even under concurrent calls) it emits ``read`` on
the status topic through :class:`StatusUpdater`, i.e. exactly like a provider's delivery
report: monotonic, once, and parked until ``sent`` if the router has not recorded the
send yet. If Redis has forgotten the notification (older than
``HERALD_IDEMPOTENCY_TTL_SECONDS``) the event is built from the row instead. If the event
cannot be emitted, ``read_at`` is cleared again and the call answers 503, so that the
client's retry emits it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field

from providers._exceptions import ProviderError
from providers.database import Cursor, InboxRow, InboxStore, InvalidCursor
from schemas._base import WireModel, is_tenant_id
from schemas.inbox import InboxError, InboxFeed, InboxItem
from schemas.status import Status, StatusEvent
from streams.pipeline.processor import EventSink
from streams.pipeline.state import NotificationState
from streams.pipeline.updates import DeliveryReport, StatusUpdater
from streams.tenancy.auth import Scope, TenantKeys, bearer_key

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "ApiResponse", "InboxApi", "item_of"]

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def _json(status: int, model: WireModel, headers: dict[str, str] | None = None) -> ApiResponse:
    return ApiResponse(status, model.model_dump_json(by_alias=True).encode(), headers or {})


def _error(status: int, code: str, message: str, **headers: str) -> ApiResponse:
    return _json(status, InboxError(error=code, message=message), dict(headers))


def item_of(row: InboxRow) -> InboxItem:
    return InboxItem(
        notification_id=row.notification_id,
        user_id=row.user_id,
        channel=row.channel,
        subject=row.subject,
        body=row.body,
        html=row.html,
        metadata=row.metadata,
        created_at=row.created_at,
        read_at=row.read_at,
        archived_at=row.archived_at,
    )


class _Refused(Exception):
    def __init__(self, response: ApiResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _Refused(_error(400, "invalid_parameter", f"{name} must be true or false"))


def _limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise _Refused(
            _error(400, "invalid_parameter", f"limit must be an integer from 1 to {MAX_LIMIT}")
        )
    return int(raw)


def _cursor(query: Mapping[str, str]) -> Cursor | None:
    raw = query.get("cursor")
    if not raw:
        return None
    try:
        return Cursor.decode(raw)
    except InvalidCursor as exc:
        raise _Refused(_error(400, "invalid_cursor", str(exc))) from exc


@dataclass(kw_only=True, eq=False)
class InboxApi:
    """The ``/inbox`` endpoints' logic over the inbox store, the API keys and the state."""

    store: InboxStore
    keys: TenantKeys
    state: NotificationState
    updater: StatusUpdater
    sink: EventSink

    async def _guard(self, tenant_id: str, user_id: str, headers: Mapping[str, str]) -> None:
        auth = await self.keys.authorize(tenant_id, bearer_key(headers), Scope.INBOX)
        if not auth.ok:
            code = "unauthorized" if auth.status == 401 else "forbidden"
            extra = {"WWW-Authenticate": 'Bearer realm="herald"'} if auth.status == 401 else {}
            raise _Refused(_error(auth.status, code, auth.reason, **extra))
        if not is_tenant_id(tenant_id) or not user_id or len(user_id) > 256:
            raise _Refused(_error(404, "not_found", "no such inbox"))

    async def _run(self, call: Awaitable[ApiResponse]) -> ApiResponse:
        try:
            return await call
        except _Refused as refused:
            return refused.response
        except ProviderError as exc:
            log.warning(
                "inbox database error", extra={"code": exc.code, "error": exc.message[:200]}
            )
            if exc.retryable:
                return _error(503, "unavailable", exc.message, **{"Retry-After": "1"})
            return _error(500, "database_error", exc.message)

    # -- endpoints ---------------------------------------------------------------------

    async def list(
        self, tenant_id: str, user_id: str, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> ApiResponse:
        async def call() -> ApiResponse:
            await self._guard(tenant_id, user_id, headers)
            page = await self.store.page(
                tenant_id,
                user_id,
                limit=_limit(query),
                cursor=_cursor(query),
                include_archived=_flag(query, "includeArchived"),
            )
            feed = InboxFeed(
                items=[item_of(row) for row in page.items],
                next_cursor=page.next_cursor.encode() if page.next_cursor else None,
                unread_count=page.unread_count,
            )
            return _json(200, feed)

        return await self._run(call())

    async def get(
        self, tenant_id: str, user_id: str, notification_id: str, headers: Mapping[str, str]
    ) -> ApiResponse:
        async def call() -> ApiResponse:
            await self._guard(tenant_id, user_id, headers)
            row = await self.store.get(tenant_id, user_id, notification_id)
            if row is None:
                return _error(404, "not_found", "no such notification in this inbox")
            return _json(200, item_of(row))

        return await self._run(call())

    async def read(
        self, tenant_id: str, user_id: str, notification_id: str, headers: Mapping[str, str]
    ) -> ApiResponse:
        async def call() -> ApiResponse:
            await self._guard(tenant_id, user_id, headers)
            found = await self.store.mark_read(tenant_id, user_id, notification_id)
            if found is None:
                return _error(404, "not_found", "no such notification in this inbox")
            row, first = found
            if first:
                try:
                    await self._emit_read(row)
                except Exception as exc:
                    await self.store.mark_unread(tenant_id, user_id, notification_id)
                    log.warning(
                        "read event not emitted; read mark undone",
                        extra={
                            "tenant_id": tenant_id,
                            "notification_id": notification_id,
                            "error": repr(exc)[:200],
                        },
                    )
                    return _error(503, "unavailable", "try again", **{"Retry-After": "1"})
            return _json(200, item_of(row))

        return await self._run(call())

    async def archive(
        self, tenant_id: str, user_id: str, notification_id: str, headers: Mapping[str, str]
    ) -> ApiResponse:
        async def call() -> ApiResponse:
            await self._guard(tenant_id, user_id, headers)
            found = await self.store.archive(tenant_id, user_id, notification_id)
            if found is None:
                return _error(404, "not_found", "no such notification in this inbox")
            return _json(200, item_of(found[0]))

        return await self._run(call())

    async def delete(
        self, tenant_id: str, user_id: str, notification_id: str, headers: Mapping[str, str]
    ) -> ApiResponse:
        async def call() -> ApiResponse:
            await self._guard(tenant_id, user_id, headers)
            if not await self.store.delete(tenant_id, user_id, notification_id):
                return _error(404, "not_found", "no such notification in this inbox")
            return ApiResponse(204)

        return await self._run(call())

    # -- the read event ----------------------------------------------------------------

    async def _emit_read(self, row: InboxRow) -> None:
        record = await self.state.get(row.tenant_id, row.notification_id)
        if record is not None:
            outcome = await self.updater.apply(
                DeliveryReport(
                    provider=row.provider,
                    provider_message_id=str(row.id),
                    status=Status.READ,
                    tenants=frozenset({row.tenant_id}),
                )
            )
            log.info(
                "inbox notification read",
                extra={
                    "tenant_id": row.tenant_id,
                    "notification_id": row.notification_id,
                    "provider": row.provider,
                    "outcome": outcome.value,
                },
            )
            return
        # Redis no longer remembers it: the database's read_at alone makes this once.
        await self.sink.status(
            StatusEvent(
                notification_id=row.notification_id,
                tenant_id=row.tenant_id,
                channel=row.channel,
                provider=row.provider,
                status=Status.READ,
                provider_message_id=str(row.id),
                metadata=row.metadata,
            )
        )
