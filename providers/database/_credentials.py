"""Credentials of the ``database`` (in-app inbox) provider: there are none.

The inbox is Herald's own database (``DATABASE_URL``), not a tenant's account, so the
model has no fields (the seed's ``BaseDatabaseCredentials``). The router uses the inbox
without any integration (``DatabaseProvider.needs_integration`` is false); storing one,
``herald integrations set --tenant T --provider database --credentials '{}'``, is only
useful to switch the inbox off for a tenant (``--inactive``).
"""

from __future__ import annotations

from typing import Literal

from schemas.credentials_base import BaseCredentials

__all__ = ["DatabaseCredentials"]


class DatabaseCredentials(BaseCredentials):
    """The in-app inbox: nothing per tenant (the seed's ``BaseDatabaseCredentials``)."""

    provider_type: Literal["database"] = "database"
