"""A tiny recording HTTP proxy for tests, with Basic proxy authentication (RFC 9110 §11.7).

Without the right ``Proxy-Authorization`` it answers ``407`` with
``Proxy-Authenticate: Basic realm="herald-test"`` (what makes a browser send its proxy
credentials); with them it forwards absolute-form requests (``GET http://host:port/...``)
and tunnels ``CONNECT host:port`` (WebSockets and TLS go through tunnels). Every request
head is recorded with whether it carried the right credentials. Loopback only.

    async with RecordingProxy("user", "secret") as proxy:
        proxy.url                  # http://127.0.0.1:PORT
        proxy.requests             # [ProxiedRequest(method, target, authorized), ...]
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["ProxiedRequest", "RecordingProxy"]

_HOP = ("proxy-", "connection:", "keep-alive:")


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    target: str
    authorized: bool


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class RecordingProxy:
    def __init__(self, username: str, password: str) -> None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._expected = f"Basic {token}"
        self.requests: list[ProxiedRequest] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> RecordingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._connection(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            authorized = headers.get("proxy-authorization") == self._expected
            self.requests.append(ProxiedRequest(method, target, authorized))
            length = int(headers.get("content-length") or 0)
            if not authorized:
                if length:
                    await reader.readexactly(length)
                body = b"proxy authentication required"
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="herald-test"\r\n'
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                continue
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
                return
            url = urlsplit(target)
            up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            kept = [line for line in lines[1:] if line and not line.lower().startswith(_HOP)]
            request = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close"])
            up_writer.write(request.encode("latin-1") + b"\r\n\r\n")
            if length:
                up_writer.write(await reader.readexactly(length))
            await up_writer.drain()
            await _pipe(up_reader, writer)  # one request per connection: close after it
            up_writer.close()
            return
