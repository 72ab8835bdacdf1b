"""Every Redis key Herald uses, in one place (``herald:`` namespace unless the seed fixes one).

Laid out for Redis Cluster: the keys one Lua script or transaction touches share a hash
slot. A tenant's keys carry the tenant as hash tag (``{tenantId}``); a provider message
id's correlation and parked list share the correlation key's slot (the parked list's hash
tag is the correlation key itself, which has no tag, so both hash the same string).
docs/guarantees.md ("Redis Cluster") lists every script and the slot it touches.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "LOOKUPS_CHANNEL",
    "correlation",
    "digest",
    "integration",
    "integration_index",
    "integrations",
    "lookup_types",
    "lookups",
    "notification",
    "outbox_floors",
    "parked",
    "provider_rows",
]


def digest(value: str) -> str:
    """Stable hash for values that must not appear in key names (tokens, secrets)."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def notification(tenant_id: str, notification_id: str) -> str:
    """Hash: the notification's processing phase, status rank, provider and correlation data.

    It is both the idempotency record (keyed by tenant and request id) and the state that
    keeps status transitions monotonic.
    """
    return f"herald:n:{{{tenant_id}}}:{digest(notification_id)}"


def correlation(provider: str, provider_message_id: str) -> str:
    return f"herald:corr:{provider}:{digest(provider_message_id)}"


def parked(provider: str, provider_message_id: str) -> str:
    """List of statuses that arrived before the correlation; same slot as the correlation."""
    return f"herald:parked:{{{correlation(provider, provider_message_id)}}}"


def integrations(tenant_id: str) -> str:
    """Hash provider -> encrypted integration record."""
    return f"herald:integrations:{{{tenant_id}}}"


def integration(tenant_id: str, provider: str) -> str:
    return f"herald:integrations:{{{tenant_id}}}:{provider}"


def integration_index(provider: str, field: str, value: str) -> str:
    """Set of tenant ids whose ``provider`` integration has ``field == value``."""
    return f"herald:integration-index:{provider}:{field}:{digest(value)}"


#: Redis pub/sub channel: published by ``herald seed`` when it changed the seed data.
LOOKUPS_CHANNEL = "herald:lookups:changed"


def lookup_types() -> str:
    return "herald:lookup-types"


def lookups() -> str:
    return "herald:lookups"


def provider_rows() -> str:
    return "herald:providers"


def outbox_floors(topic: str, partition: int) -> str:
    """Hash: status partition -> floor offset of a consumed topic-partition's events.

    See ``streams/platform/outbox.py``; a few fields per consumed partition, never expires.
    """
    return f"herald:outbox:{{{topic}}}:{partition}"
