"""Tenants on the WhatsApp Business fake, for the rigs that send through it (batch_rig.py,
fault_rig.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from redis.asyncio import Redis

from sandbox import WhatsAppBusinessSandbox
from schemas import Settings
from seeds import load_seeds
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore


async def seed_business_tenants(
    redis: Redis,
    settings: Settings,
    sandbox: WhatsAppBusinessSandbox,
    tenants: Sequence[str],
    phone_prefix: str,
    verify_token: Callable[[str], str],
) -> None:
    """Load the seed data, then give each tenant a number on ``sandbox``
    (``phone_prefix`` and the tenant's index; access token ``tok-<tenant>``, app secret
    ``sec``) stored as its default ``whatsapp-business`` integration."""
    await load_seeds(redis)
    store = IntegrationStore(redis, Cipher.from_settings(settings))
    for n, tenant in enumerate(tenants):
        phone_id = f"{phone_prefix}{n}"
        sandbox.add_account(phone_id, access_token=f"tok-{tenant}", app_secret="sec")
        await store.set(
            tenant,
            "whatsapp-business",
            {
                "phoneNumberId": phone_id,
                "accessToken": f"tok-{tenant}",
                "appSecret": "sec",
                "verifyToken": verify_token(tenant),
            },
            is_default=True,
        )
