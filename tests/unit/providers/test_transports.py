"""The providers' shared HTTP client keeps no cookies (one client serves every tenant)."""

from __future__ import annotations

import httpx
import pytest

from providers.transports import ProviderClient


async def test_a_cookie_set_for_one_tenant_never_reaches_another() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        # The attack: an answer to tenant A's call sets a session cookie for the host...
        return httpx.Response(200, headers={"Set-Cookie": "session=tenant-a; Path=/"})

    async with ProviderClient(transport=httpx.MockTransport(handler)) as client:
        await client.post("https://graph.example/v1/messages", json={"tenant": "a"})
        # ...and tenant B's next call to the same host must not carry it.
        await client.post("https://graph.example/v1/messages", json={"tenant": "b"})
        assert len(client.cookies) == 0

    assert seen == [None, None]


async def test_the_plain_httpx_client_would_have_leaked_it() -> None:
    """The control: the same exchange through an ordinary client sends the cookie back."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "session=tenant-a; Path=/"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await client.post("https://graph.example/v1/messages")
        await client.post("https://graph.example/v1/messages")

    assert seen == [None, "session=tenant-a"]


def test_cookies_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="no cookies"):
        ProviderClient(cookies={"session": "x"})
