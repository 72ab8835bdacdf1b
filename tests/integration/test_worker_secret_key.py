"""A worker refuses to start without HERALD_SECRET_KEY when tenants have stored credentials."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from schemas import Settings
from streams.cli.errors import ExitCode, UsageError
from streams.cli.worker import check_secret_key
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

CREDS = {"phoneNumberId": "1065", "accessToken": "EAAG-token", "appSecret": "s", "verifyToken": "v"}


async def test_no_key_and_stored_credentials_refuses_to_start(
    redis: Redis, settings_factory: Callable[..., Settings]
) -> None:
    keyed = settings_factory()
    await IntegrationStore(redis, Cipher.from_settings(keyed)).set(
        "acme", "whatsapp-business", CREDS, is_default=True
    )
    with pytest.raises(UsageError) as caught:
        await check_secret_key(settings_factory(secret_key=None), redis)
    assert caught.value.code == ExitCode.USAGE
    assert "HERALD_SECRET_KEY" in caught.value.message
    assert "acme" in caught.value.message
    assert "EAAG-token" not in caught.value.message  # names tenants, never secrets


async def test_no_key_and_nothing_stored_starts(
    redis: Redis, settings_factory: Callable[..., Settings]
) -> None:
    await check_secret_key(settings_factory(secret_key=None), redis)  # no error


async def test_with_key_starts(redis: Redis, settings_factory: Callable[..., Settings]) -> None:
    settings: Any = settings_factory()
    await IntegrationStore(redis, Cipher.from_settings(settings)).set(
        "acme", "whatsapp-business", CREDS, is_default=True
    )
    await check_secret_key(settings, redis)
