"""The provider abstraction (the seed's ``BaseProvider``).

Lifecycle: the router builds a provider per send with the tenant's validated
credentials and the worker's shared :class:`httpx.AsyncClient`, then calls
``validate()`` (raises :class:`InvalidRequest`; the request is rejected),
``format_payload()`` (pure) and ``send()`` (raises :class:`RetryableError` or
:class:`PermanentError`; returns a :class:`SendResult`). Providers hold no
connection state of their own; anything long-lived (HTTP pools, browser sessions,
database engines) is injected: ``http`` for everyone, and the :class:`Resources` a
provider lists in ``requires`` (e.g. the inbox's database store).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from providers.webhooks import Webhook
from schemas.credentials_base import BaseCredentials
from schemas.notification import Channel, NotificationRequest
from schemas.settings import Settings

__all__ = ["Provider", "ProviderInfo", "RateLimit", "Resources", "SendResult"]

C = TypeVar("C", bound=BaseCredentials)
R = TypeVar("R")


class Resources:
    """Long-lived objects a worker owns and lends to providers, one per class.

    ``streams.platform.runtime`` builds it (e.g. ``Resources(inbox_store)``) and closes what is in
    it; a provider names the classes it needs in ``Provider.requires`` and gets them with
    ``self.resources.get(InboxStore)``.
    """

    def __init__(self, *items: object) -> None:
        self._items: dict[type, object] = {type(item): item for item in items}

    def __contains__(self, kind: type) -> bool:
        return kind in self._items

    def get(self, kind: type[R]) -> R:
        item = self._items.get(kind)
        if not isinstance(item, kind):
            raise LookupError(f"this worker provides no {kind.__name__}")
        return item


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The service's documented send rate, per integration: ``per_second`` sustained, ``burst``."""

    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """Static description of a provider (the seed's ``getMetadata()``)."""

    content_types: tuple[str, ...]
    features: tuple[str, ...] = ()
    docs_url: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str
    metadata: dict[str, Any] = field(default_factory=dict)


class Provider(ABC, Generic[C]):
    """Base of every provider. Subclasses declare the class attributes and the three methods."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    channel: ClassVar[Channel]
    credentials_model: ClassVar[type[BaseCredentials]]
    info: ClassVar[ProviderInfo]
    rate_limit: ClassVar[RateLimit | None] = None
    #: Credential fields (python names) the integration store indexes, so that an inbound
    #: webhook naming e.g. a phone number id can be matched to its tenants.
    index_fields: ClassVar[tuple[str, ...]] = ()
    #: Inbound webhooks the web server mounts for this provider (path, methods, handler);
    #: see :mod:`providers.webhooks`.
    webhooks: ClassVar[tuple[Webhook, ...]] = ()
    #: A provider whose sends happen in another worker role (e.g. WhatsApp Web sessions,
    #: which live in the session workers): the router validates and accepts the request,
    #: then hands it over on that role's dispatch topic instead of calling ``send()``.
    handoff_role: ClassVar[str | None] = None
    #: Classes of the shared :class:`Resources` this provider uses (``self.resources``).
    requires: ClassVar[tuple[type, ...]] = ()
    #: ``False`` for a built-in provider that needs no per-tenant integration (the inbox):
    #: without one, the router uses it with the credentials model's defaults.
    needs_integration: ClassVar[bool] = True

    @classmethod
    def http_mounts(cls, settings: Settings) -> dict[str, httpx.AsyncBaseTransport]:
        """Per-origin transports the worker's shared client mounts for this provider.

        E.g. ``{"https://api.push.apple.com": httpx.AsyncHTTPTransport(http2=True)}``:
        requests to that origin use HTTP/2, every other one keeps the client's HTTP/1.1
        (gathered by ``providers.transports.provider_mounts``). Default: none.
        """
        del settings
        return {}

    def __init__(
        self,
        credentials: C,
        *,
        http: httpx.AsyncClient,
        settings: Settings,
        resources: Resources | None = None,
    ) -> None:
        self.credentials = credentials
        self.http = http
        self.settings = settings
        self.resources = resources if resources is not None else Resources()

    @classmethod
    def required_credentials(cls) -> list[str]:
        """Wire names of the credential fields without a default (the seed's getRequiredCredentials)."""
        return [
            f.alias or name
            for name, f in cls.credentials_model.model_fields.items()
            if f.is_required()
        ]

    def log_extra(self, request: NotificationRequest, **more: Any) -> dict[str, Any]:
        """A send's structured-log fields: tenant, notification and provider, and ``more``."""
        return {
            "tenant_id": request.tenant_id,
            "notification_id": request.id,
            "provider": self.name,
            **more,
        }

    @abstractmethod
    def validate(self, request: NotificationRequest) -> None:
        """Raise :class:`InvalidRequest` if this provider cannot send ``request``."""

    @abstractmethod
    def format_payload(self, request: NotificationRequest) -> Any:
        """Turn a request into the service's request body (pure, no I/O)."""

    @abstractmethod
    async def send(self, request: NotificationRequest) -> SendResult:
        """Deliver ``request`` to the service; raise a :class:`ProviderError` on failure."""
