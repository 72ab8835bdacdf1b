"""Inbound webhooks: what a provider declares, and the small interfaces its handler gets.

A provider that receives status webhooks declares them on its class::

    class MailgunProvider(Provider[MailgunCredentials]):
        webhooks = (Webhook("/webhooks/mailgun", ("POST",), mailgun_webhook),)

and the worker's web server (``streams.web.views``) mounts every registered provider's
webhooks generically: it reads the body (``413`` past ``HERALD_WEBHOOK_MAX_BODY_BYTES``),
builds a :class:`WebhookRequest`, and calls ``handler(request, context)``.

The handler verifies the request against the tenants' stored credentials (through an
:class:`IntegrationsReader`), parses it, and hands each status to a :class:`ReportSink`
(``streams.pipeline.updates.StatusUpdater`` in the worker, a list in a test) as a
:class:`DeliveryReport`. Both are Protocols, so ``providers`` never imports ``streams``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import orjson
from redis.asyncio import Redis

from schemas.credentials_base import BaseCredentials
from schemas.settings import Settings
from schemas.status import ErrorInfo, Status

__all__ = [
    "MAX_FUTURE_SKEW",
    "DeliveryReport",
    "IntegrationsReader",
    "MalformedWebhook",
    "ReportSink",
    "ReportedStatus",
    "Webhook",
    "WebhookContext",
    "WebhookEvent",
    "WebhookHandler",
    "WebhookRequest",
    "WebhookResponse",
    "json_array",
    "json_object",
    "signed_by",
]

C = TypeVar("C", bound=BaseCredentials)


class MalformedWebhook(ValueError):
    """A webhook body is not what the service sends (the handler answers 4xx)."""


def _json(raw_body: bytes) -> Any:
    try:
        return orjson.loads(raw_body)
    except orjson.JSONDecodeError as exc:
        raise MalformedWebhook("body is not JSON") from exc


def json_object(raw_body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or :class:`MalformedWebhook`."""
    data = _json(raw_body)
    if not isinstance(data, dict):
        raise MalformedWebhook("body must be a JSON object")
    return data


def json_array(raw_body: bytes) -> list[Any]:
    """The body as a JSON array, or :class:`MalformedWebhook`."""
    data = _json(raw_body)
    if not isinstance(data, list):
        raise MalformedWebhook("body must be a JSON array")
    return data


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int
    body: str = ""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


class ReportedStatus(Protocol):
    """What a provider's webhook parser makes of one status it reports."""

    @property
    def provider_message_id(self) -> str: ...

    @property
    def status(self) -> Status: ...

    @property
    def error(self) -> ErrorInfo | None: ...


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event of a service's webhook that becomes a status (a :class:`ReportedStatus`).

    ``event`` is the service's name for it; ``tenant`` the tenant the event names, if it
    names one; ``event_id`` the service's unique id of the event, for de-duplication.
    """

    provider_message_id: str
    status: Status
    event: str
    error: ErrorInfo | None = None
    tenant: str | None = None
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A status a provider reported for one of its message ids (webhook, ack)."""

    provider: str
    provider_message_id: str
    status: Status
    error: ErrorInfo | None = None
    metadata: dict[str, Any] | None = None
    #: If set, the report may only touch notifications of these tenants (the ones whose
    #: credentials authenticated it).
    tenants: frozenset[str] | None = None

    @classmethod
    def of(
        cls, provider: str, reported: ReportedStatus, tenants: frozenset[str] | None
    ) -> DeliveryReport:
        """The report of a status ``provider``'s webhook carried, for ``tenants`` only."""
        return cls(
            provider=provider,
            provider_message_id=reported.provider_message_id,
            status=reported.status,
            error=reported.error,
            tenants=tenants,
        )


class ReportSink(Protocol):
    """Where delivery reports go: correlated to notifications and emitted as statuses."""

    async def apply(self, report: DeliveryReport) -> object: ...


class IntegrationsReader(Protocol):
    """Read access to the tenants' integrations (``streams.tenancy.integrations``).

    ``credentials`` raises :class:`schemas.errors.InvalidTenantId` for a malformed tenant id.
    """

    async def credentials(self, tenant_id: str, provider: str) -> BaseCredentials | None: ...

    async def tenants_by_index(self, provider: str, field: str, value: str) -> list[str]: ...

    async def tenants_by_indexes(
        self, provider: str, field: str, values: list[str]
    ) -> dict[str, list[str]]:
        """:meth:`tenants_by_index` for several values in one round trip."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One HTTP request to a webhook path, as the web server received it."""

    method: str
    #: The URL as received (scheme and host as the server saw them, behind any proxy).
    url: str
    #: Case-insensitive where the server's mapping is (aiohttp's is).
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class WebhookContext:
    """What a webhook handler may use besides the request."""

    integrations: IntegrationsReader
    reports: ReportSink
    settings: Settings
    #: For per-webhook bookkeeping such as replay protection (Mailgun's tokens).
    redis: Redis


WebhookHandler = Callable[[WebhookRequest, WebhookContext], Awaitable[WebhookResponse]]


@dataclass(frozen=True, slots=True)
class Webhook:
    """A path the web server mounts for a provider, the methods it answers, the handler."""

    path: str
    methods: tuple[str, ...]
    handler: WebhookHandler


async def signed_by(
    integrations: IntegrationsReader,
    provider: str,
    model: type[C],
    index: tuple[str, str],
    verifies: Callable[[C], bool],
    *,
    candidates: list[str] | None = None,
) -> set[str]:
    """The tenants indexed under ``index`` (field, value) whose credentials sign the request.

    ``verifies(credentials)`` checks the request's signature with one tenant's secret; the
    tenants it accepts are the ones the request may speak for. ``candidates``: the index
    already read (several values in one round trip, :meth:`tenants_by_indexes`).
    """
    field, value = index
    verified: set[str] = set()
    if candidates is None:
        candidates = await integrations.tenants_by_index(provider, field, value)
    for tenant in candidates:
        creds = await integrations.credentials(tenant, provider)
        if isinstance(creds, model) and verifies(creds):
            verified.add(tenant)
    return verified


#: Seconds a webhook's signed timestamp may lie ahead of this worker's clock.
MAX_FUTURE_SKEW = 300


def signed_at(timestamp: str, now: float, max_age: int) -> int | None:
    """A signed timestamp (unix seconds) if it is at most ``max_age`` seconds old and at
    most :data:`MAX_FUTURE_SKEW` ahead of ``now``; else ``None`` (stale, future, not a
    number). A replay cache keeps an id until ``signed_at + max_age``."""
    text = timestamp.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    signed = int(text)
    return signed if now - max_age <= signed <= now + MAX_FUTURE_SKEW else None
