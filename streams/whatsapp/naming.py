"""Which session: a tenant's sessions and the names their keys, folders and URLs carry.

A tenant may run several WhatsApp Web sessions (a support and a sales number), one per
``wppconnect`` integration. Inside the worker a session is named by its **session id**
(``sid``): the tenant id for the tenant's first session -- the one stored under the
integration name ``wppconnect``, so a tenant with one session keeps the keys, profile
folder and URLs it had before several were possible -- and ``{tenantId}@{sessionName}``
for the others (tenant ids never contain ``@``). Every Redis key, lease, archive and
profile directory of a session is built from its sid; the keys hash-tagged by tenant
keep the tenant as hash tag (``wppconnect:lease:{acme}@sales``), so a session's lease,
fence and archive stay in one cluster slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.integration import INSTANCE_SEPARATOR

__all__ = [
    "SEPARATOR",
    "SessionRef",
    "session_id",
    "split_sid",
    "tagged",
    "tenant_of",
    "untagged",
]

SEPARATOR = INSTANCE_SEPARATOR


def session_id(tenant_id: str, integration: str | None) -> str:
    """The sid of the session run by ``integration`` (``wppconnect`` or ``wppconnect@x``)."""
    if integration is None or SEPARATOR not in integration:
        return tenant_id
    return f"{tenant_id}{SEPARATOR}{integration.split(SEPARATOR, 1)[1]}"


def split_sid(sid: str) -> tuple[str, str | None]:
    """(tenant id, the session's suffix or ``None`` for the tenant's first session)."""
    tenant, sep, suffix = sid.partition(SEPARATOR)
    return tenant, (suffix if sep else None)


def tenant_of(sid: str) -> str:
    return split_sid(sid)[0]


def tagged(sid: str) -> str:
    """The sid with its tenant as Redis Cluster hash tag: ``{acme}``, ``{acme}@sales``."""
    tenant, suffix = split_sid(sid)
    return f"{{{tenant}}}" if suffix is None else f"{{{tenant}}}{SEPARATOR}{suffix}"


def untagged(text: str) -> str | None:
    """The sid of :func:`tagged`'s output (``{acme}@sales`` -> ``acme@sales``), else None."""
    if not text.startswith("{"):
        return None
    tenant, close, rest = text[1:].partition("}")
    if not close or not tenant:
        return None
    if not rest:
        return tenant
    if not rest.startswith(SEPARATOR) or len(rest) == 1:
        return None
    return f"{tenant}{rest}"


@dataclass(frozen=True, slots=True)
class SessionRef:
    """One session of a tenant, as the endpoints and commands select it."""

    tenant_id: str
    #: The session's ``sessionName`` (``None``: the tenant has no integration of its own).
    session_name: str | None
    sid: str
    #: Whether a request without ``sender`` (and an endpoint without ``session``) uses it.
    is_default: bool = True
