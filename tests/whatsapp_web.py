"""Setting up WhatsApp Web (``wppconnect``) for the tests of its pipeline: settings with it
on, and tenants' sessions stored as integrations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from schemas import Settings
from seeds import load_seeds
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from tests.helpers import make_settings

__all__ = ["ACME_SESSION", "Sessions", "seed_integrations", "wppconnect_settings"]

#: tenant -> its ``wppconnect`` integrations' credentials, the first one its default.
Sessions = Mapping[str, Sequence[Mapping[str, Any]]]

#: One session of tenant ``acme``, for the stories that need no more.
ACME_SESSION: Sessions = {"acme": [{"sessionName": "s", "phoneNumberId": "p"}]}


def wppconnect_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """``make_settings`` with WhatsApp Web on, its token folder in ``tmp_path`` and no
    anti-ban pacing of sends (``overrides`` win)."""
    values: dict[str, Any] = {
        "wppconnect_enabled": True,
        "wppconnect_token_folder": str(tmp_path / "tokens"),
        "wppconnect_send_rate": 0,
    }
    return make_settings(**{**values, **overrides})


async def seed_integrations(redis: Redis, settings: Settings, sessions: Sessions) -> None:
    """Load the seed data, then store each tenant's ``wppconnect`` integrations in order
    (sealed with the settings' key), the first of each tenant as its default."""
    await load_seeds(redis)
    store = IntegrationStore(redis, Cipher.from_settings(settings))
    for tenant, credentials in sessions.items():
        for index, values in enumerate(credentials):
            await store.set(tenant, "wppconnect", dict(values), is_default=index == 0)
