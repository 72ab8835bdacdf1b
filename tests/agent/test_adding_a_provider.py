"""README's "Adding a provider", done in a test: a toy SMS provider registered here.

What the README lists, and nothing else: one package (here: the classes below), one
registry line (``REGISTRY["toy"] = ToyProvider``), one fake (a small aiohttp app), one
seed row (a lookup and a provider row), and a settings field for its URL
(``toy_api_url``). With those, the router agent sends through it, the integration store
validates its credentials, the JSON Schema union lists them, the web server mounts its
webhook, and that webhook turns a report into a status event.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

import httpx
import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from redis.asyncio import Redis

from providers.base import Provider, ProviderInfo, SendResult
from providers.errors import ErrorSpec, error_for, from_status, from_transport
from providers.registry import REGISTRY
from providers.webhooks import (
    DeliveryReport,
    Webhook,
    WebhookContext,
    WebhookRequest,
    WebhookResponse,
)
from sandbox import serve_app
from schemas import Channel, NotificationRequest, Settings, Status
from schemas.credentials import credentials_adapter
from schemas.credentials_base import BaseCredentials, NonEmpty
from schemas.errors import InvalidRequest
from schemas.lookups import Lookup, ProviderSeed
from schemas.status import ErrorCode
from seeds import data as seed_data
from seeds import load_seeds
from streams.platform.app import create_app
from streams.platform.sink import MemorySink
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore, validate_credentials
from streams.web.views import mount_webhooks
from tests.helpers import make_settings

# --- the package --------------------------------------------------------------------


class ToyCredentials(BaseCredentials):
    provider_type: Literal["toy"] = "toy"
    api_key: NonEmpty


#: The error table: data only (``providers.errors`` does the translation).
TOY_ERRORS = {"quota": ErrorSpec.retry(ErrorCode.RATE_LIMITED, "over the quota")}


async def toy_webhook(request: WebhookRequest, context: WebhookContext) -> WebhookResponse:
    """``POST /webhooks/toy``: ``{"apiKey", "id", "status"}``; the key names the tenant."""
    body = orjson.loads(request.body)
    tenants = await context.integrations.tenants_by_index("toy", "api_key", body["apiKey"])
    if not tenants:
        return WebhookResponse(401, "unknown key")
    await context.reports.apply(
        DeliveryReport(
            provider="toy",
            provider_message_id=body["id"],
            status=Status(body["status"]),
            tenants=frozenset(tenants),
        )
    )
    return WebhookResponse(200, "ok")


class ToyProvider(Provider[ToyCredentials]):
    name: ClassVar[str] = "toy"
    display_name: ClassVar[str] = "Toy SMS"
    channel: ClassVar[Channel] = Channel.SMS
    credentials_model: ClassVar[type[BaseCredentials]] = ToyCredentials
    info: ClassVar[ProviderInfo] = ProviderInfo(content_types=("text",))
    index_fields: ClassVar[tuple[str, ...]] = ("api_key",)
    webhooks: ClassVar[tuple[Webhook, ...]] = (Webhook("/webhooks/toy", ("POST",), toy_webhook),)

    def validate(self, request: NotificationRequest) -> None:
        if request.recipient.phone is None:
            raise InvalidRequest(ErrorCode.INVALID_RECIPIENT, "toy sends to phones only")

    def format_payload(self, request: NotificationRequest) -> dict[str, Any]:
        return {"to": request.recipient.phone, "text": request.content.body}

    async def send(self, request: NotificationRequest) -> SendResult:
        settings = self.settings
        assert isinstance(settings, ToySettings)
        try:
            response = await self.http.post(
                f"{settings.toy_api_url}/send",
                json=self.format_payload(request),
                headers={"Authorization": f"Bearer {self.credentials.api_key}"},
            )
        except httpx.HTTPError as exc:
            raise from_transport(exc, "Toy") from exc
        if not response.is_success:
            code = response.json().get("error") if response.content else None
            if not isinstance(code, str):
                raise from_status(response.status_code, "Toy refused the message")
            raise error_for(code, code, TOY_ERRORS.get(code), status=response.status_code)
        return SendResult(provider_message_id=response.json()["id"])


# --- the settings field, the seed rows, the fake -----------------------------------


class ToySettings(Settings):
    toy_api_url: str = "http://127.0.0.1:1"


TOY_LOOKUP = Lookup(
    type="sms_provider",
    lookup_code="toy",
    lookup_value="Toy",
    order_index=9,
    metadata={"channel": "sms"},
)
TOY_ROW = ProviderSeed(
    name="toy",
    channel=Channel.SMS,
    provider_type="toy",
    display_name="Toy SMS",
    is_default=False,
    is_active=True,
    priority=9,
)


class ToyFake:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_post("/send", self._send)

    async def _send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer toy-key":
            return web.json_response({"error": "bad key"}, status=401)
        body = await request.json()
        self.sent.append(body)
        return web.json_response({"id": f"toy-{len(self.sent)}"})


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "toy", ToyProvider)  # the registry line
    monkeypatch.setattr(seed_data, "LOOKUPS", (*seed_data.LOOKUPS, TOY_LOOKUP))
    monkeypatch.setattr(seed_data, "PROVIDERS", (*seed_data.PROVIDERS, TOY_ROW))


class _Pages:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def page(self, path: str) -> Any:
        self.paths.append(path)
        return lambda view: view


@pytest_asyncio.fixture
async def herald(
    registered: None, redis_url: str, redis: Redis, test_secret_key: str
) -> AsyncIterator[tuple[Any, MemorySink, ToyFake, Any]]:
    fake = ToyFake()
    async with serve_app(fake.app, port=0) as base_url:
        base = make_settings(redis_url=redis_url, secret_key=test_secret_key)
        cfg = ToySettings(_env_file=None, **{**dict(base), "toy_api_url": base_url})
        await load_seeds(redis)
        store = IntegrationStore(redis, Cipher.from_settings(cfg))
        await store.set("acme", "toy", {"apiKey": "toy-key"}, is_default=True)
        sink = MemorySink()
        app = create_app(cfg, sink=sink)
        agent = app.app.agents["router"]
        async with agent.test_context() as ctx:
            yield ctx, sink, fake, app.runtime
        await app.runtime.stop()


def test_the_registry_line_adds_its_credentials_to_the_union(registered: None) -> None:
    creds = validate_credentials("toy", {"apiKey": "k"})
    assert isinstance(creds, ToyCredentials)
    parsed = credentials_adapter().validate_python({"providerType": "toy", "apiKey": "k"})
    assert isinstance(parsed, ToyCredentials)


async def test_the_router_sends_through_it_and_its_webhook_reports_back(
    herald: tuple[Any, MemorySink, ToyFake, Any],
) -> None:
    agent, sink, fake, runtime = herald
    nid = str(uuid.uuid4())
    request = {
        "id": nid,
        "tenantId": "acme",
        "channel": "sms",
        "provider": "toy",
        "recipient": {"phone": "+5511999990001"},
        "content": {"body": "hi"},
    }
    await agent.put(key=b"acme", value=orjson.dumps(request))
    async with asyncio.timeout(10):
        await sink.wait_for(lambda s: [e.status for e in s.of(nid)][-1:] == [Status.SENT])
    assert fake.sent == [{"to": "+5511999990001", "text": "hi"}]
    assert [(e.status, e.provider, e.provider_message_id) for e in sink.of(nid)] == [
        (Status.ACCEPTED, "toy", None),
        (Status.SENT, "toy", "toy-1"),
    ]

    pages = _Pages()
    assert "/webhooks/toy" in mount_webhooks(pages, runtime)  # type: ignore[arg-type]
    context = WebhookContext(
        integrations=runtime.integrations,
        reports=runtime.updater,
        settings=runtime.settings,
        redis=runtime.redis,
    )
    report = {"apiKey": "toy-key", "id": "toy-1", "status": "delivered"}
    answer = await toy_webhook(
        WebhookRequest("POST", "http://x/webhooks/toy", {}, {}, orjson.dumps(report)), context
    )
    assert answer.status == 200
    assert [e.status for e in sink.of(nid)][-1] == Status.DELIVERED
