"""The in-app inbox endpoints; thin adapters over :class:`streams.inbox.InboxApi`.

``GET    /inbox/{tenantId}/{userId}?limit=&cursor=&includeArchived=``  the feed
``GET    /inbox/{tenantId}/{userId}/{notificationId}``                   one notification
``POST   /inbox/{tenantId}/{userId}/{notificationId}/read``              mark read (emits ``read``)
``POST   /inbox/{tenantId}/{userId}/{notificationId}/archive``           archive
``DELETE /inbox/{tenantId}/{userId}/{notificationId}``                   delete
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import faust
from faust.web import Request, Response, View

from streams.inbox import ApiResponse, InboxApi
from streams.tenancy.auth import TenantKeys

if TYPE_CHECKING:
    from streams.platform.runtime import Runtime

__all__ = ["register"]


def _reply(view: View, answer: ApiResponse) -> Response:
    response: Response = view.bytes(
        answer.body,
        content_type=answer.content_type,
        status=answer.status,
        headers=answer.headers or None,
    )
    return response


def register(app: faust.App, runtime: Runtime) -> None:
    async def api() -> InboxApi:
        await runtime.start()
        return InboxApi(
            store=runtime.inbox,
            keys=TenantKeys(runtime.redis),
            state=runtime.state,
            updater=runtime.updater,
            sink=runtime.sink,
        )

    @app.page("/inbox/{tenant_id}/{user_id}")
    class InboxFeed(View):
        async def get(self, request: Request, tenant_id: str, user_id: str) -> Response:
            query = {k: str(v) for k, v in request.query.items()}
            answer = await (await api()).list(tenant_id, user_id, request.headers, query)
            return _reply(self, answer)

    @app.page("/inbox/{tenant_id}/{user_id}/{notification_id}")
    class InboxNotification(View):
        async def get(
            self, request: Request, tenant_id: str, user_id: str, notification_id: str
        ) -> Response:
            answer = await (await api()).get(tenant_id, user_id, notification_id, request.headers)
            return _reply(self, answer)

        async def delete(
            self, request: Request, tenant_id: str, user_id: str, notification_id: str
        ) -> Response:
            answer = await (await api()).delete(
                tenant_id, user_id, notification_id, request.headers
            )
            return _reply(self, answer)

    @app.page("/inbox/{tenant_id}/{user_id}/{notification_id}/read")
    class InboxRead(View):
        async def post(
            self, request: Request, tenant_id: str, user_id: str, notification_id: str
        ) -> Response:
            answer = await (await api()).read(tenant_id, user_id, notification_id, request.headers)
            return _reply(self, answer)

    @app.page("/inbox/{tenant_id}/{user_id}/{notification_id}/archive")
    class InboxArchive(View):
        async def post(
            self, request: Request, tenant_id: str, user_id: str, notification_id: str
        ) -> Response:
            answer = await (await api()).archive(
                tenant_id, user_id, notification_id, request.headers
            )
            return _reply(self, answer)
