"""Checking what an integration is stored with: tenant ids, credentials, index keys, names.

Split from :mod:`streams.tenancy.integrations`, which re-exports the public names.
Nothing here returns or logs a secret value: errors name fields, never their values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from providers.registry import get_provider_class
from schemas._base import TENANT_ID_PATTERN, is_tenant_id
from schemas.credentials import BaseCredentials, credentials_adapter
from schemas.credentials import credential_models as registered_models
from schemas.errors import InvalidIntegrationCredentials, InvalidTenantId, UnknownProvider
from schemas.integration import INSTANCE_SEPARATOR, SYSTEM_TENANT
from schemas.notification import Channel
from seeds import data as seed_data
from streams.tenancy import keys

__all__ = [
    "SESSION_NAME_PATTERN",
    "channel_of",
    "check_tenant",
    "credential_models",
    "field_errors",
    "index_keys",
    "instance_of",
    "integration_name",
    "provider_of",
    "reveal",
    "validate_credentials",
]

#: What a named instance (a WhatsApp Web ``sessionName``) may look like: it becomes part
#: of Redis keys, a profile directory name and a URL query value.
SESSION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_SESSION_NAME_RE = re.compile(SESSION_NAME_PATTERN)


def credential_models() -> dict[str, type[BaseCredentials]]:
    """Provider lookup code -> credentials model, from the registered providers' models."""
    return {model.model_fields["provider_type"].default: model for model in registered_models()}


def channel_of(provider: str) -> Channel:
    for lookup in seed_data.LOOKUPS:
        if lookup.lookup_code == provider:
            return lookup.channel
    raise UnknownProvider(provider, sorted(credential_models()))


def provider_of(name: str) -> str:
    """The provider of an integration name (``wppconnect`` or ``wppconnect@sales``)."""
    return name.split(INSTANCE_SEPARATOR, 1)[0]


def integration_name(provider: str, instance: str | None) -> str:
    """The hash field of a provider's named instance (``None``: the provider's first one)."""
    return provider if instance is None else f"{provider}{INSTANCE_SEPARATOR}{instance}"


def instance_of(creds: BaseCredentials) -> str | None:
    """The instance name of credentials whose provider allows several per tenant, else None."""
    field = type(creds).instance_field
    if field is None:
        return None
    value = getattr(creds, field, None)
    return str(value) if value is not None else None


def validate_credentials(provider: str, credentials: Mapping[str, Any]) -> BaseCredentials:
    """Validate ``credentials`` for ``provider``; errors name fields by wire name, not values."""
    known = sorted(credential_models())
    if provider not in known:
        raise UnknownProvider(provider, known)
    data = dict(credentials)
    for name in ("providerType", "provider_type"):
        given = data.pop(name, provider)
        if given != provider:
            raise InvalidIntegrationCredentials(
                provider, {"providerType": f"is {given!r} but the provider is {provider!r}"}
            )
    data["providerType"] = provider
    try:
        creds = credentials_adapter().validate_python(data)
    except ValidationError as exc:
        # ``from None``: the pydantic error's text includes the input values (secrets).
        raise InvalidIntegrationCredentials(provider, field_errors(provider, exc)) from None
    instance = instance_of(creds)
    if instance is not None and not _SESSION_NAME_RE.match(instance):
        field = type(creds).model_fields[str(type(creds).instance_field)]
        raise InvalidIntegrationCredentials(
            provider, {field.alias or "instance": f"must match {SESSION_NAME_PATTERN}"}
        )
    return creds


def field_errors(provider: str, exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        parts = [str(p) for p in err["loc"]]
        if parts and parts[0] == provider:
            parts = parts[1:]
        name = ".".join(parts) or "credentials"
        errors[name] = "missing" if err["type"] == "missing" else err["msg"]
    return errors


def reveal(creds: BaseModel) -> dict[str, Any]:
    """The credentials as wire JSON with the secret values in clear (for encryption only),
    nested models included (a wppconnect ``proxy`` has a password)."""
    data: dict[str, Any] = creds.model_dump(mode="json", by_alias=True, exclude_none=True)
    for name, field in type(creds).model_fields.items():
        value = getattr(creds, name)
        if isinstance(value, SecretStr):
            data[field.alias or name] = value.get_secret_value()
        elif isinstance(value, BaseModel):
            data[field.alias or name] = reveal(value)
    return data


def index_keys(provider: str, creds: BaseCredentials) -> list[str]:
    cls = get_provider_class(provider)
    if cls is None:
        return []
    found: list[str] = []
    for field in cls.index_fields:
        value = getattr(creds, field, None)
        if value is None:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        found.append(keys.integration_index(provider, field, text))
    return found


def check_tenant(tenant_id: str) -> None:
    if tenant_id != SYSTEM_TENANT and not is_tenant_id(tenant_id):
        raise InvalidTenantId(
            f"invalid tenant id {tenant_id!r}: must match {TENANT_ID_PATTERN} "
            f"(or be {SYSTEM_TENANT!r} for the system defaults)"
        )
