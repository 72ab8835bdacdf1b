"""The in-app inbox on the worker side: schema migrations and the endpoints' logic.

Alembic migrations ship in the package (``migrations/``): ``herald db upgrade`` (and, if
``HERALD_DB_AUTO_MIGRATE``, every worker at start) brings ``DATABASE_URL`` to the newest
revision. :class:`InboxApi` is the logic of the ``/inbox`` endpoints (``streams.web.inbox``).
The table and its queries live with the provider, in ``providers.database``.
"""

from __future__ import annotations

from streams.inbox._api import ApiResponse, InboxApi
from streams.inbox._config import SCRIPT_LOCATION, VERSION_TABLE, alembic_config
from streams.inbox._migrate import (
    auto_migrate_enabled,
    current_revision,
    downgrade,
    head_revision,
    migrate_on_start,
    upgrade,
)

__all__ = [
    "SCRIPT_LOCATION",
    "VERSION_TABLE",
    "ApiResponse",
    "InboxApi",
    "alembic_config",
    "auto_migrate_enabled",
    "current_revision",
    "downgrade",
    "head_revision",
    "migrate_on_start",
    "upgrade",
]
