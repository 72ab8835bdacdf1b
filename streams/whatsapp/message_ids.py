"""WhatsApp Web message ids that other tenants cannot predict.

A notification's WhatsApp message id must be the same on every worker and every try (a
send repeated after a crash or a hand-over then cannot reach the recipient twice), so it
is derived, not random. Derived from tenant and notification id alone, any tenant could
compute another tenant's ids, and with them forge or anticipate delivery reports. Here
it is an HMAC of both under a secret salt, created once in Redis (``SET NX``) and shared
by every worker: deterministic for Herald, unpredictable for anyone without the salt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from redis.asyncio import Redis

__all__ = ["SALT_KEY", "MessageIds"]

SALT_KEY = "herald:whatsapp:message-id-salt"


class MessageIds:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._salt: bytes | None = None

    async def salt(self) -> bytes:
        if self._salt is None:
            await self._redis.set(SALT_KEY, secrets.token_bytes(32), nx=True)
            stored = await self._redis.get(SALT_KEY)
            if not stored:
                raise RuntimeError("the WhatsApp message id salt could not be stored")
            self._salt = stored.encode() if isinstance(stored, str) else bytes(stored)
        return self._salt

    async def key(self, tenant_id: str, notification_id: str) -> str:
        """``3EB0`` and 16 hex digits, like WhatsApp Web's own ids."""
        digest = hmac.new(
            await self.salt(), f"{tenant_id}\x00{notification_id}".encode(), hashlib.sha256
        ).hexdigest()
        return "3EB0" + digest[:16].upper()
