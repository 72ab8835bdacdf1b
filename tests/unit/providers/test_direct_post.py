"""The providers' client sends plain body POSTs through aiohttp directly (``DirectPost``):
what reaches the server and what the provider reads must be what the httpx path gives."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from httpx_aiohttp import AiohttpTransport

from providers.transports import DirectPost, ProviderClient
from sandbox import serve_app

HEADERS = {"Authorization": "Bearer token-1", "Content-Type": "application/json"}
BODY = orjson.dumps({"messaging_product": "whatsapp", "to": "5511999990001"})


class Server:
    """Records what arrives; ``/json``, ``/gzip``, ``/refuse``, ``/moved``, ``/slow``,
    ``/cookie`` (sets one) answer as named."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_post("/{name}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            {
                "method": request.method,
                "path": request.path_qs,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": await request.read(),
            }
        )
        name = request.match_info["name"]
        if name == "gzip":
            packed = gzip.compress(b'{"id": "wamid.1"}')
            return web.Response(body=packed, headers={"Content-Encoding": "gzip"})
        if name == "refuse":
            return web.json_response({"error": {"code": 131047}}, status=400, reason="Nope")
        if name == "moved":
            return web.Response(status=302, headers={"Location": "/json"})
        if name == "slow":
            await asyncio.sleep(2)
        if name == "cookie":
            return web.json_response({}, headers={"Set-Cookie": "session=tenant-a; Path=/"})
        return web.json_response({"messages": [{"id": "wamid.1"}]}, status=201)


class CountingDirect(DirectPost):
    def __init__(self) -> None:
        super().__init__(limit=8)
        self.calls = 0

    async def post(self, *args: Any, **kwargs: Any) -> httpx.Response:
        self.calls += 1
        return await super().post(*args, **kwargs)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    srv = Server()
    async with serve_app(srv.app, port=0) as url:
        yield srv, url.replace("127.0.0.1", "localhost")  # a host name: cookies would stick


def direct_client(direct: DirectPost, **kwargs: Any) -> ProviderClient:
    return ProviderClient(
        transport=AiohttpTransport(client=direct.session), direct=direct, **kwargs
    )


def plain_client() -> ProviderClient:
    return ProviderClient(transport=AiohttpTransport())


def answer(response: httpx.Response) -> tuple[int, str, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k not in ("date",)}
    return response.status_code, response.reason_phrase, headers, response.content


@pytest.mark.parametrize("path", ["/json", "/gzip", "/refuse", "/moved", "/json?x=1"])
async def test_a_plain_post_reads_and_arrives_as_through_httpx(
    server: tuple[Server, str], path: str
) -> None:
    srv, url = server
    direct = CountingDirect()
    async with direct_client(direct) as fast, plain_client() as slow:
        through_direct = await fast.post(url + path, content=BODY, headers=HEADERS)
        through_httpx = await slow.post(url + path, content=BODY, headers=HEADERS)
    assert direct.calls == 1
    assert answer(through_direct) == answer(through_httpx)
    assert through_direct.url == through_httpx.url
    assert "authorization" not in through_direct.request.headers  # no credentials kept
    assert len(srv.seen) == 2  # redirects are not followed by either
    assert srv.seen[0] == srv.seen[1]
    assert srv.seen[0]["headers"]["authorization"] == "Bearer token-1"


async def test_other_calls_and_mounted_origins_take_httpx(server: tuple[Server, str]) -> None:
    srv, url = server
    mounted: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        mounted.append(request)
        return httpx.Response(200)

    direct = CountingDirect()
    apns = "http://apns.example"
    async with direct_client(direct, mounts={apns: httpx.MockTransport(handler)}) as client:
        await client.post(f"{apns}/3/device/x", content=BODY)
        await client.post(url + "/json", json={"a": 1})
        await client.post(url + "/json", data={"a": "1"})
        await client.post(url + "/json", content=BODY, params={"a": "1"})
        assert direct.calls == 0
        assert len(mounted) == 1
        client.httpx_only()  # what the runtime does once tracing instruments the client
        await client.post(url + "/json", content=BODY)
        assert direct.calls == 0
    assert len(srv.seen) == 4


async def test_failures_are_the_httpx_errors_of_the_transport(server: tuple[Server, str]) -> None:
    _, url = server
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/json"
    direct = CountingDirect()
    quick = httpx.Timeout(0.3)
    raised: dict[str, list[type[BaseException]]] = {"direct": [], "httpx": []}
    async with direct_client(direct) as fast, plain_client() as slow:
        for name, client in (("direct", fast), ("httpx", slow)):
            for target in (closed, url + "/slow"):
                with pytest.raises(httpx.TransportError) as caught:
                    await client.post(target, content=BODY, timeout=quick)
                raised[name].append(type(caught.value))
    assert direct.calls == 2
    assert raised["direct"] == raised["httpx"]
    assert issubclass(raised["direct"][1], httpx.TimeoutException)


async def test_no_cookie_set_for_one_tenant_reaches_another(server: tuple[Server, str]) -> None:
    """The attack through aiohttp's own session: its default jar would keep the cookie."""
    srv, url = server
    direct = CountingDirect()
    async with direct_client(direct) as client:
        await client.post(url + "/cookie", content=b"tenant-a")
        await client.post(url + "/json", content=b"tenant-b")  # direct
        await client.post(url + "/json", json={"tenant": "b"})  # through the transport
    assert direct.calls == 2
    assert [seen["headers"].get("cookie") for seen in srv.seen] == [None, None, None]


def test_a_direct_client_refuses_options_that_would_change_its_calls() -> None:
    for option in ({"auth": ("a", "b")}, {"base_url": "http://x"}, {"params": {"a": "1"}}):
        with pytest.raises(ValueError, match="direct client takes no"):
            ProviderClient(direct=DirectPost(), **option)  # type: ignore[arg-type]
