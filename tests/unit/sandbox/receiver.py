"""A tiny webhook endpoint that records what a fake posts to it (the fakes' own tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict

__all__ = ["Received", "Receiver"]


@dataclass
class Received:
    headers: CIMultiDict[str]
    body: bytes

    @property
    def params(self) -> list[tuple[str, str]]:
        """The body's url-encoded form fields, in order, blank ones kept."""
        return parse_qsl(self.body.decode(), keep_blank_values=True)


class Receiver:
    """Records each POST to ``path``, answering ``status``; ``content_type``, when
    given, is what every request must be sent as."""

    def __init__(self, path: str, *, status: int = 200, content_type: str | None = None):
        self.queue: asyncio.Queue[Received] = asyncio.Queue()
        self.app = web.Application()
        self.app.router.add_post(path, self._hook)
        self.status = status
        self.content_type = content_type
        self.url = ""

    async def _hook(self, request: web.Request) -> web.Response:
        if self.content_type is not None:
            assert request.content_type == self.content_type
        await self.queue.put(Received(CIMultiDict(request.headers), await request.read()))
        return web.Response(status=self.status)

    async def next(self) -> Received:
        async with asyncio.timeout(5):
            return await self.queue.get()
