"""APNs provider authentication tokens: ES256 JWTs, signed rarely and shared.

Apple's rules for token-based connections: the JWT header names the signing key
(``alg: ES256``, ``kid``); the claims are the team (``iss``) and the issue time
(``iat``, seconds). A token older than one hour is refused (``ExpiredProviderToken``),
and re-signing more often than every 20 minutes is refused too
(``TooManyProviderTokenUpdates``). So a token is reused for :data:`TOKEN_MAX_AGE` (50
minutes) by every send of the process for that key, and re-signed earlier only when
APNs answered ``ExpiredProviderToken`` for exactly that token.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from providers.apn._credentials import APNCredentials
from schemas.errors import InvalidCredentials
from schemas.status import ErrorCode

__all__ = [
    "DEFAULT_PROVIDER_TOKENS",
    "TOKEN_MAX_AGE",
    "TOKEN_MIN_AGE",
    "ProviderTokenCache",
    "load_signing_key",
]

#: Re-sign once a token is this old (Apple: between 20 and 60 minutes).
TOKEN_MAX_AGE = 50 * 60.0
#: Apple refuses updates more frequent than this (except after ExpiredProviderToken).
TOKEN_MIN_AGE = 20 * 60.0


def load_signing_key(credentials: APNCredentials) -> ec.EllipticCurvePrivateKey:
    """The ``.p8`` key as a P-256 private key; :class:`InvalidCredentials` otherwise."""
    pem = credentials.private_key.get_secret_value().strip().encode()
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidCredentials(
            ErrorCode.INVALID_CREDENTIALS.value, "apn privateKey is not a PEM private key"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise InvalidCredentials(
            ErrorCode.INVALID_CREDENTIALS.value, "apn privateKey must be an EC P-256 (.p8) key"
        )
    return key


@dataclass(frozen=True, slots=True)
class _Signed:
    token: str
    issued_at: float


class ProviderTokenCache:
    """Signed provider tokens per (team, key id, key), process-wide.

    ``clock`` returns Unix seconds (injectable for tests). ``signatures`` counts the
    tokens signed so far. Signing is synchronous and fast, so no lock is needed on one
    event loop.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_age: float = TOKEN_MAX_AGE,
    ) -> None:
        self.clock = clock
        self.max_age = max_age
        self.signatures = 0
        self._tokens: dict[tuple[str, str, str], _Signed] = {}
        self._keys: dict[tuple[str, str, str], ec.EllipticCurvePrivateKey] = {}

    @staticmethod
    def _key(credentials: APNCredentials) -> tuple[str, str, str]:
        digest = hashlib.sha256(credentials.private_key.get_secret_value().encode()).hexdigest()
        return (credentials.team_id, credentials.key_id, digest)

    def token(self, credentials: APNCredentials) -> str:
        """The current token for these credentials, signing one if none is young enough."""
        key = self._key(credentials)
        signed = self._tokens.get(key)
        if signed is not None and self.clock() - signed.issued_at < self.max_age:
            return signed.token
        return self._sign(key, credentials)

    def renew(self, credentials: APNCredentials, stale: str) -> str:
        """A new token after APNs answered ``ExpiredProviderToken`` for ``stale``.

        If another send already replaced ``stale``, that replacement is returned.
        """
        key = self._key(credentials)
        signed = self._tokens.get(key)
        if signed is not None and signed.token != stale:
            return signed.token
        return self._sign(key, credentials)

    def forget(self, credentials: APNCredentials) -> None:
        self._tokens.pop(self._key(credentials), None)

    def _sign(self, key: tuple[str, str, str], credentials: APNCredentials) -> str:
        private_key = self._keys.get(key)
        if private_key is None:
            private_key = self._keys[key] = load_signing_key(credentials)
        now = self.clock()
        token = jwt.encode(
            {"iss": credentials.team_id, "iat": int(now)},
            private_key,
            algorithm="ES256",
            headers={"kid": credentials.key_id},
        )
        self._tokens[key] = _Signed(token, now)
        self.signatures += 1
        return token


#: The process-wide cache providers use unless one is injected.
DEFAULT_PROVIDER_TOKENS = ProviderTokenCache()
