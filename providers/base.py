"""The provider abstraction (the seed's ``BaseProvider``).

Lifecycle: the router builds a provider per send with the tenant's validated
credentials and the worker's shared :class:`httpx.AsyncClient`, then calls
``validate()`` (raises :class:`InvalidRequest`; the request is rejected),
``format_payload()`` (pure) and ``send()`` (raises :class:`RetryableError` or
:class:`PermanentError`; returns a :class:`SendResult`). Providers hold no
connection state of their own; anything long-lived (HTTP pools, browser sessions)
is injected.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from schemas.credentials import BaseCredentials
from schemas.notification import Channel, NotificationRequest
from schemas.settings import Settings

__all__ = ["Provider", "ProviderInfo", "RateLimit", "SendResult"]

C = TypeVar("C", bound=BaseCredentials)


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
    #: A provider whose sends happen in another worker role (e.g. WhatsApp Web sessions,
    #: which live in the session workers): the router validates and accepts the request,
    #: then hands it over on that role's dispatch topic instead of calling ``send()``.
    handoff_role: ClassVar[str | None] = None

    def __init__(self, credentials: C, *, http: httpx.AsyncClient, settings: Settings) -> None:
        self.credentials = credentials
        self.http = http
        self.settings = settings

    @classmethod
    def required_credentials(cls) -> list[str]:
        """Wire names of the credential fields without a default (the seed's getRequiredCredentials)."""
        return [
            f.alias or name
            for name, f in cls.credentials_model.model_fields.items()
            if f.is_required()
        ]

    @abstractmethod
    def validate(self, request: NotificationRequest) -> None:
        """Raise :class:`InvalidRequest` if this provider cannot send ``request``."""

    @abstractmethod
    def format_payload(self, request: NotificationRequest) -> Any:
        """Turn a request into the service's request body (pure, no I/O)."""

    @abstractmethod
    async def send(self, request: NotificationRequest) -> SendResult:
        """Deliver ``request`` to the service; raise a :class:`ProviderError` on failure."""
