"""A small HTTP/2 server (the ``h2`` library on asyncio) for fakes of HTTP/2-only services.

Plain TCP speaks h2c with prior knowledge (what ``httpx.AsyncClient(http1=False,
http2=True)`` sends to an ``http://`` URL); with an ``ssl`` context it speaks TLS and
offers ``h2`` by ALPN. Each request is read whole, handed to an async handler, and the
handler's :class:`H2Response` is written back, honouring flow control.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions

__all__ = ["H2Handler", "H2Request", "H2Response", "serve_h2"]

_connection_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class H2Request:
    """One request: pseudo-headers split out, other header names lower-case."""

    connection_id: int
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]


@dataclass(frozen=True, slots=True)
class H2Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


H2Handler = Callable[[H2Request], Awaitable[H2Response]]


class _Stream:
    __slots__ = ("body", "headers")

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers
        self.body = bytearray()


class _H2Protocol(asyncio.Protocol):
    def __init__(self, handler: H2Handler, protocols: set[_H2Protocol]) -> None:
        self.handler = handler
        self.protocols = protocols
        self.id = next(_connection_ids)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.window_open = asyncio.Event()

    # --- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.protocols.add(self)
        self.conn.initiate_connection()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocols.discard(self)
        for task in self.tasks.values():
            task.cancel()
        self.window_open.set()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            self.close()
            return
        for event in events:
            self._on_event(event)
        self._flush()

    # --- h2 events --------------------------------------------------------------------

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived) and event.stream_id is not None:
            headers = [(str(k), str(v)) for k, v in event.headers or []]
            self.streams[event.stream_id] = _Stream(headers)
            if event.stream_ended is not None:
                self._dispatch(event.stream_id)
        elif isinstance(event, h2.events.DataReceived) and event.stream_id is not None:
            stream = self.streams.get(event.stream_id)
            if stream is not None and event.data:
                stream.body.extend(event.data)
            self.conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id is not None:
            self._dispatch(event.stream_id)
        elif isinstance(event, h2.events.StreamReset) and event.stream_id is not None:
            self.streams.pop(event.stream_id, None)
            task = self.tasks.pop(event.stream_id, None)
            if task is not None:
                task.cancel()
        elif isinstance(event, h2.events.WindowUpdated):
            self.window_open.set()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.close()

    def _dispatch(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None or stream_id in self.tasks:
            return
        pseudo = {k: v for k, v in stream.headers if k.startswith(":")}
        request = H2Request(
            connection_id=self.id,
            method=pseudo.get(":method", ""),
            path=pseudo.get(":path", ""),
            headers=tuple((k.lower(), v) for k, v in stream.headers if not k.startswith(":")),
            body=bytes(stream.body),
        )
        task = asyncio.get_running_loop().create_task(self._respond(stream_id, request))
        self.tasks[stream_id] = task
        task.add_done_callback(lambda _: self.tasks.pop(stream_id, None))

    async def _respond(self, stream_id: int, request: H2Request) -> None:
        response = await self.handler(request)
        if self.transport is None or self.transport.is_closing():
            return
        headers = [(":status", str(response.status))]
        headers += [(k.lower(), v) for k, v in response.headers]
        headers.append(("content-length", str(len(response.body))))
        try:
            self.conn.send_headers(stream_id, headers, end_stream=not response.body)
            self._flush()
            await self._send_body(stream_id, response.body)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return

    async def _send_body(self, stream_id: int, body: bytes) -> None:
        view = memoryview(body)
        while view:
            window = min(
                self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size
            )
            if window <= 0:
                self.window_open.clear()
                await self.window_open.wait()
                if self.transport is None or self.transport.is_closing():
                    return
                continue
            chunk, view = view[:window], view[window:]
            self.conn.send_data(stream_id, bytes(chunk), end_stream=not view)
            self._flush()

    # --- helpers ----------------------------------------------------------------------

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.conn.close_connection()
                self._flush()
            self.transport.close()


@asynccontextmanager
async def serve_h2(
    handler: H2Handler,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[str]:
    """Serve ``handler`` over HTTP/2 and yield the base URL (``http(s)://host:port``).

    On exit every connection is closed and requests still being handled are cancelled.
    """
    if ssl_context is not None:
        ssl_context.set_alpn_protocols(["h2"])
    protocols: set[_H2Protocol] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _H2Protocol(handler, protocols), host, port, ssl=ssl_context
    )
    try:
        bound_host, bound_port = server.sockets[0].getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
        scheme = "https" if ssl_context is not None else "http"
        yield f"{scheme}://{shown}:{bound_port}"
    finally:
        server.close()
        for protocol in list(protocols):
            for task in list(protocol.tasks.values()):
                task.cancel()
            protocol.close()
        await server.wait_closed()
