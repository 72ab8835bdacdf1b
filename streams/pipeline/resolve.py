"""Choosing the provider and credentials for a request.

Order (the foundation issue, section 2):

1. the request's ``provider``, if the tenant has an active integration for it (or, failing
   that, a system integration exists for it and the seed row is active);
2. else the tenant's default integration for the channel (then the others by priority);
3. else the system default for the channel by the seed's priority, with the system
   integration's credentials (tenant ``_system``).

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
from schemas import SYSTEM_TENANT, BaseCredentials, ErrorCode, NotificationRequest
from streams.tenancy.crypto import CryptoError
from streams.tenancy.integrations import IntegrationStore, InvalidIntegrationCredentials
from streams.tenancy.lookups import LookupsService

__all__ = [
    "CredentialsUnreadable",
    "Rejection",
    "Resolved",
    "alternatives",
    "resolve_named",
    "resolve_provider",
]


class Rejection(Exception):
    """The request cannot be routed; becomes a ``rejected`` status with ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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
    integrations: IntegrationStore, tenant_id: str, code: str
) -> BaseCredentials | None:
    try:
        return await integrations.credentials(tenant_id, code)
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
    """A provider that needs no integration (the inbox), with its credentials' defaults."""
    return Resolved(cls, cls.credentials_model.model_validate({}), "builtin")


async def resolve_provider(
    request: NotificationRequest, lookups: LookupsService, integrations: IntegrationStore
) -> Resolved:
    channel = request.channel
    tenant = request.tenant_id
    if request.provider is not None:
        code = request.provider
        if not lookups.is_provider_for(code, channel):
            raise Rejection(
                ErrorCode.UNKNOWN_PROVIDER,
                f"{code!r} is not a known provider for channel {channel.value!r}",
            )
        summary = await integrations.get(tenant, code)
        if summary is not None and not summary.is_active:
            raise Rejection(
                ErrorCode.PROVIDER_INACTIVE, f"provider {code!r} is inactive for this tenant"
            )
        cls = _implementation(code)
        if summary is not None:
            creds = await _credentials(integrations, tenant, code)
            if creds is not None:
                return Resolved(cls, creds, "request")
        row = lookups.provider_row(code)
        if row is None or not row.is_active:
            raise Rejection(ErrorCode.PROVIDER_INACTIVE, f"provider {code!r} is inactive")
        system = await integrations.get(SYSTEM_TENANT, code)
        if system is not None and system.is_active:
            creds = await _credentials(integrations, SYSTEM_TENANT, code)
            if creds is not None:
                return Resolved(cls, creds, "system")
        if not cls.needs_integration and system is None:
            return _builtin(cls)
        raise Rejection(
            ErrorCode.NO_INTEGRATION, f"no integration for provider {code!r} for this tenant"
        )

    for summary in await integrations.for_channel(tenant, channel):
        cls_or_none = get_provider_class(summary.provider)
        if cls_or_none is None:
            continue
        creds = await _credentials(integrations, tenant, summary.provider)
        if creds is not None:
            return Resolved(cls_or_none, creds, "tenant")

    for row in lookups.system_defaults(channel):
        cls_or_none = get_provider_class(row.provider_type)
        if cls_or_none is None:
            continue
        system = await integrations.get(SYSTEM_TENANT, row.provider_type)
        if system is None and not cls_or_none.needs_integration:
            own = await integrations.get(tenant, row.provider_type)  # switched off by the tenant?
            if own is None or own.is_active:
                return _builtin(cls_or_none)
        if system is None or not system.is_active:
            continue
        creds = await _credentials(integrations, SYSTEM_TENANT, row.provider_type)
        if creds is not None:
            return Resolved(cls_or_none, creds, "system")

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
        if summary.provider not in exclude and get_provider_class(summary.provider) is not None:
            names.append(summary.provider)
    return names
