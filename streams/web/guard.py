"""What every webhook shares, around the provider's handler (docs/security.md, "Webhooks").

* **Failed authentication is throttled per source**: a source (the peer address, or the
  address ``HERALD_WEBHOOK_CLIENT_IP_HEADER`` names behind a trusted proxy) that earned
  ``HERALD_WEBHOOK_MAX_UNAUTHORIZED_PER_MINUTE`` answers of 401 or 403 within a minute
  gets ``429`` without its request being read further: no lookups, no signature checks.
  Providers that sign correctly never earn a 401, so they are never throttled.
* **An unreadable key is not a crash**: when stored credentials cannot be decrypted
  (``HERALD_SECRET_KEY`` missing or rotated away without ``herald keys rotate``), the
  answer is ``401`` for a request that carries no signature at all (it could not be
  verified anyway) and ``503`` otherwise (the provider retries once the key is fixed),
  with one log line per provider per minute instead of a traceback per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from redis.asyncio import Redis

from providers.webhooks import WebhookRequest, WebhookResponse
from schemas.settings import Settings
from streams.tenancy.crypto import CryptoError

__all__ = ["WebhookGuard", "client_address"]

log = logging.getLogger(__name__)

_WINDOW = 60  # seconds
#: Headers that carry a signature of some provider: a request without any is unsigned.
_SIGNATURE_HEADERS = (
    "X-Hub-Signature-256",
    "X-Twilio-Signature",
    "X-Twilio-Email-Event-Webhook-Signature",
)


def client_address(peer: str | None, headers: Mapping[str, str], header: str | None) -> str:
    """The source to throttle: the last address in ``header`` (what the nearest trusted
    proxy saw) if configured and present, else the peer address."""
    if header:
        forwarded = headers.get(header)
        if forwarded:
            last = forwarded.split(",")[-1].strip()
            if last:
                return last[:64]
    return (peer or "unknown")[:64]


def _signed(request: WebhookRequest) -> bool:
    if any(request.headers.get(name) for name in _SIGNATURE_HEADERS):
        return True
    return b"signature" in request.body  # Mailgun signs inside the body


class WebhookGuard:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._limit = settings.webhook_max_unauthorized_per_minute
        self._logged: dict[str, float] = {}

    def _key(self, source: str) -> str:
        return f"herald:webhook-denied:{source}:{int(time.time()) // _WINDOW}"

    async def run(
        self,
        provider: str,
        source: str,
        request: WebhookRequest,
        handler: Callable[[], Awaitable[WebhookResponse]],
    ) -> WebhookResponse:
        key = self._key(source)
        denied = await self._redis.get(key)
        if denied is not None and int(denied) >= self._limit:
            retry = _WINDOW - int(time.time()) % _WINDOW
            return WebhookResponse(
                429, "too many failed attempts", headers={"Retry-After": str(max(1, retry))}
            )
        try:
            answer = await handler()
        except CryptoError as exc:
            self._log_unreadable(provider, exc)
            if not _signed(request):
                answer = WebhookResponse(401, "unauthenticated")
            else:
                return WebhookResponse(503, "credentials unreadable", headers={"Retry-After": "60"})
        if answer.status in (401, 403):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, _WINDOW * 2)
                await pipe.execute()
        return answer

    def _log_unreadable(self, provider: str, exc: CryptoError) -> None:
        now = time.monotonic()
        if now - self._logged.get(provider, -_WINDOW) < _WINDOW:
            return
        self._logged[provider] = now
        log.error(
            "webhook credentials unreadable (HERALD_SECRET_KEY / HERALD_PREVIOUS_SECRET_KEYS?)",
            extra={"provider": provider, "error": str(exc)[:200]},
        )
