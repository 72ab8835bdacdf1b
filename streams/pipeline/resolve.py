"""Choosing the provider and credentials for a request.

Order (the foundation issue, section 2):

1. the request's ``provider``, if the tenant has an active integration for it (or, failing
   that, a system integration exists for it and the seed row is active);
2. else the tenant's default integration for the channel (then the others by priority);
3. else the system default for the channel by the seed's priority, with the system
   integration's credentials (tenant ``_system``).

A request's ``sender`` names one of the tenant's sessions (wppconnect's ``sessionName``):
only the tenant's integration with that name is used (``unknown_sender`` when it has
none); without ``sender``, the provider's instances are taken in the store's order (the
default, then priority, then the first one stored): docs/whatsapp-web.md, "Several numbers
per tenant".

A provider that needs no integration (``needs_integration = False``: the inbox) is used
with its credentials' defaults where a system integration would be needed and none
exists, unless the tenant stored an inactive integration for it (switched it off).

A provider that is unknown for the channel, inactive, not implemented or has no usable
credentials is a :class:`Rejection` with a code a program can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from providers.base import Provider
from providers.registry import get_provider_class
from schemas import (
    SYSTEM_TENANT,
    BaseCredentials,
    ErrorCode,
    IntegrationSummary,
    NotificationRequest,
)
from schemas.errors import InvalidIntegrationCredentials, Rejection
from streams.tenancy.crypto import CryptoError
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService

__all__ = [
    "CredentialsUnreadable",
    "Rejection",
    "Resolved",
    "alternatives",
    "resolve_named",
    "resolve_provider",
    "session_of",
]


class CredentialsUnreadable(Exception):
    """A stored integration could not be read (no or another secret key, a corrupt record).

    Becomes a ``failed`` status with ``code``; ``retryable`` when an operator's fix (the
    right ``HERALD_SECRET_KEY``, a key rotation) would let a later attempt succeed.
    """

    def __init__(self, provider: str, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.provider = provider
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Resolved:
    provider_cls: type[Provider[Any]]
    credentials: BaseCredentials
    source: str  # "request", "tenant", "system" or "builtin" (needs no integration)
    #: The integration's name in its tenant (``wppconnect``, ``wppconnect@sales``).
    integration: str | None = None

    @property
    def name(self) -> str:
        return self.provider_cls.name


def _implementation(code: str) -> type[Provider[Any]]:
    cls = get_provider_class(code)
    if cls is None:
        raise Rejection(
            ErrorCode.PROVIDER_NOT_IMPLEMENTED, f"provider {code!r} is not implemented yet"
        )
    return cls


async def _credentials(
    integrations: IntegrationStore, tenant_id: str, code: str, name: str | None = None
) -> BaseCredentials | None:
    try:
        return await integrations.credentials(tenant_id, name or code)
    except CryptoError as exc:
        raise CredentialsUnreadable(
            code,
            ErrorCode.CREDENTIALS_UNREADABLE,
            f"the {code} credentials cannot be decrypted ({type(exc).__name__}): "
            "check HERALD_SECRET_KEY / HERALD_PREVIOUS_SECRET_KEYS",
            retryable=True,
        ) from exc
    except InvalidIntegrationCredentials as exc:
        raise CredentialsUnreadable(
            code,
            ErrorCode.INVALID_CREDENTIALS,
            f"the stored {code} credentials are invalid: {', '.join(sorted(exc.errors))}",
            retryable=False,
        ) from exc
    except (ValueError, ValidationError) as exc:  # a corrupt record
        raise CredentialsUnreadable(
            code,
            ErrorCode.CREDENTIALS_UNREADABLE,
            f"the stored {code} integration cannot be read",
            retryable=False,
        ) from exc


def _builtin(cls: type[Provider[Any]]) -> Resolved:
    """A request's ``sender`` names one of the tenant's sessions (wppconnect's ``sessionName``):
    only the tenant's integration with that name is used (``unknown_sender`` when it has
    none); without ``sender``, the provider's instances are taken in the store's order (the
    default, then priority, then the first one stored): docs/whatsapp-web.md, "Several numbers
    per tenant".

    A provider that needs no integration (the inbox), with its credentials' defaults."""
    return Resolved(cls, cls.credentials_model.model_validate({}), "builtin")


async def session_of(
    integrations: IntegrationStore, tenant_id: str, summary: IntegrationSummary
) -> str | None:
    """The instance (session) name of an integration; records stored before names were
    kept are decrypted to find it."""
    if summary.session_name is not None or summary.provider != "wppconnect":
        return summary.session_name
    creds = await _credentials(integrations, tenant_id, summary.provider, summary.name)
    name = getattr(creds, "session_name", None)
    return str(name) if name is not None else None


async def _sender_provider(request: NotificationRequest, integrations: IntegrationStore) -> str:
    """The provider of the tenant's integration named by ``request.sender``."""
    for summary in await integrations.list(request.tenant_id):
        if summary.channel != request.channel:
            continue
        if await session_of(integrations, request.tenant_id, summary) == request.sender:
            return summary.provider
    raise Rejection(
        ErrorCode.UNKNOWN_SENDER,
        f"the tenant has no {request.channel.value} sender named {request.sender!r}",
    )


async def _own(
    request: NotificationRequest, code: str, integrations: IntegrationStore
) -> list[IntegrationSummary]:
    """The tenant's integrations of ``code`` that may send ``request`` (its sender's)."""
    found = await integrations.instances(request.tenant_id, code)
    if request.sender is None:
        return found
    mine = [
        s for s in found if await session_of(integrations, request.tenant_id, s) == request.sender
    ]
    if not mine:
        raise Rejection(
            ErrorCode.UNKNOWN_SENDER,
            f"the tenant has no {code} sender named {request.sender!r}",
        )
    return mine


async def resolve_provider(
    request: NotificationRequest, lookups: LookupsService, integrations: IntegrationStore
) -> Resolved:
    channel = request.channel
    tenant = request.tenant_id
    if request.provider is None and request.sender is not None:
        request = request.model_copy(
            update={"provider": await _sender_provider(request, integrations)}
        )
    if request.provider is not None:
        code = request.provider
        if not lookups.is_provider_for(code, channel):
            raise Rejection(
                ErrorCode.UNKNOWN_PROVIDER,
                f"{code!r} is not a known provider for channel {channel.value!r}",
            )
        own = await _own(request, code, integrations)
        if own and not any(s.is_active for s in own):
            raise Rejection(
                ErrorCode.PROVIDER_INACTIVE, f"provider {code!r} is inactive for this tenant"
            )
        cls = _implementation(code)
        for summary in own:
            if not summary.is_active:
                continue
            creds = await _credentials(integrations, tenant, code, summary.name)
            if creds is not None:
                return Resolved(cls, creds, "request", summary.name)
        row = lookups.provider_row(code)
        if row is None or not row.is_active:
            raise Rejection(ErrorCode.PROVIDER_INACTIVE, f"provider {code!r} is inactive")
        system = await integrations.get(SYSTEM_TENANT, code)
        if system is not None and system.is_active:
            creds = await _credentials(integrations, SYSTEM_TENANT, code)
            if creds is not None:
                return Resolved(cls, creds, "system", code)
        if not cls.needs_integration and system is None:
            return _builtin(cls)
        raise Rejection(
            ErrorCode.NO_INTEGRATION, f"no integration for provider {code!r} for this tenant"
        )

    for summary in await integrations.for_channel(tenant, channel):
        cls_or_none = get_provider_class(summary.provider)
        if cls_or_none is None:
            continue
        creds = await _credentials(integrations, tenant, summary.provider, summary.name)
        if creds is not None:
            return Resolved(cls_or_none, creds, "tenant", summary.name)

    for row in lookups.system_defaults(channel):
        cls_or_none = get_provider_class(row.provider_type)
        if cls_or_none is None:
            continue
        system = await integrations.get(SYSTEM_TENANT, row.provider_type)
        if system is None and not cls_or_none.needs_integration:
            off = await integrations.get(tenant, row.provider_type)  # switched off by the tenant?
            if off is None or off.is_active:
                return _builtin(cls_or_none)
        if system is None or not system.is_active:
            continue
        creds = await _credentials(integrations, SYSTEM_TENANT, row.provider_type)
        if creds is not None:
            return Resolved(cls_or_none, creds, "system", row.provider_type)

    raise Rejection(
        ErrorCode.NO_INTEGRATION,
        f"no active integration for channel {channel.value!r}: "
        "configure one with `herald integrations set`",
    )


async def resolve_named(
    request: NotificationRequest, name: str, lookups: LookupsService, integrations: IntegrationStore
) -> Resolved:
    """Resolve a specific provider for ``request`` (a retry or a failover target)."""
    return await resolve_provider(
        request.model_copy(update={"provider": name}), lookups, integrations
    )


async def alternatives(
    request: NotificationRequest, exclude: set[str], integrations: IntegrationStore
) -> list[str]:
    """The tenant's other active, implemented integrations for the channel, in order."""
    names = []
    for summary in await integrations.for_channel(request.tenant_id, request.channel):
        name = summary.provider
        if name not in exclude and name not in names and get_provider_class(name) is not None:
            names.append(name)
    return names
