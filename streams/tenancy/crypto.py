"""Authenticated encryption of credentials at rest (AES-256-GCM from ``cryptography``).

A token is self-describing: ``v1.<key_id>.<base64url(nonce | ciphertext+tag)>`` with a
random 96-bit nonce. The key id names the key that encrypted it, so keys can be rotated:
the primary key (``HERALD_SECRET_KEY``) encrypts, and it or any previous key
(``HERALD_PREVIOUS_SECRET_KEYS``, comma-separated) decrypts. Keys are 32 random bytes,
URL-safe base64 encoded, as ``herald keygen`` prints them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.errors import HeraldError
from schemas.settings import Settings

__all__ = [
    "Cipher",
    "CryptoError",
    "DecryptionFailed",
    "InvalidSecretKey",
    "MissingSecretKey",
    "decode_key",
    "generate_key",
    "key_id_of",
]

KEY_BYTES = 32
NONCE_BYTES = 12
TOKEN_VERSION = "v1"


class CryptoError(HeraldError):
    """Root of the encryption errors."""


class MissingSecretKey(CryptoError):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "HERALD_SECRET_KEY is not set: refusing to store or read credentials without a "
            "key (generate one with `herald keygen`)"
        )


class InvalidSecretKey(CryptoError):
    """A key is not 32 bytes of URL-safe base64."""


class DecryptionFailed(CryptoError):
    """The token is malformed, was made with an unknown key, or was tampered with."""


def generate_key() -> str:
    """A new random key: 32 bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def decode_key(text: str, *, name: str = "HERALD_SECRET_KEY") -> bytes:
    """Decode a URL-safe base64 key (padding optional); raise :class:`InvalidSecretKey`."""
    stripped = text.strip()
    try:
        raw = base64.b64decode(stripped + "=" * (-len(stripped) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecretKey(f"{name} is not URL-safe base64 (use `herald keygen`)") from exc
    if len(raw) != KEY_BYTES:
        raise InvalidSecretKey(
            f"{name} must decode to {KEY_BYTES} bytes, got {len(raw)} (use `herald keygen`)"
        )
    return raw


def key_id_of(key: bytes) -> str:
    """Short public id of a key: the first 8 hex characters of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:8]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


class Cipher:
    """Encrypts with the primary key; decrypts with whichever known key the token names."""

    def __init__(self, primary_key: bytes, previous: Sequence[bytes] = ()) -> None:
        for key in (primary_key, *previous):
            if len(key) != KEY_BYTES:
                raise InvalidSecretKey(f"secret keys must be {KEY_BYTES} bytes, got {len(key)}")
        self.key_id = key_id_of(primary_key)
        self._primary = AESGCM(primary_key)
        self._keys: dict[str, AESGCM] = {self.key_id: self._primary}
        for key in previous:
            self._keys.setdefault(key_id_of(key), AESGCM(key))

    @classmethod
    def from_settings(cls, settings: Settings) -> Cipher:
        if settings.secret_key is None or not settings.secret_key.get_secret_value().strip():
            raise MissingSecretKey()
        primary = decode_key(settings.secret_key.get_secret_value())
        previous: list[bytes] = []
        if settings.previous_secret_keys is not None:
            parts = settings.previous_secret_keys.get_secret_value().split(",")
            for index, part in enumerate(p for p in parts if p.strip()):
                previous.append(decode_key(part, name=f"HERALD_PREVIOUS_SECRET_KEYS[{index}]"))
        return cls(primary, previous)

    @property
    def key_ids(self) -> list[str]:
        """Ids of every key this cipher can decrypt with, the primary first."""
        return list(self._keys)

    def encrypt(self, plaintext: bytes, aad: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._primary.encrypt(nonce, plaintext, aad)
        return f"{TOKEN_VERSION}.{self.key_id}.{_b64(nonce + sealed)}"

    def decrypt(self, token: str, aad: bytes) -> bytes:
        version, key_id, body = _split(token)
        if version != TOKEN_VERSION:
            raise DecryptionFailed(f"unsupported token version {version!r}")
        aead = self._keys.get(key_id)
        if aead is None:
            raise DecryptionFailed(
                f"token was encrypted with key {key_id}, which is neither HERALD_SECRET_KEY nor "
                "one of HERALD_PREVIOUS_SECRET_KEYS"
            )
        try:
            raw = _unb64(body)
        except (binascii.Error, ValueError) as exc:
            raise DecryptionFailed("token body is not base64url") from exc
        if len(raw) <= NONCE_BYTES:
            raise DecryptionFailed("token body is too short")
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise DecryptionFailed(
                "token failed authentication (tampered, or bound to another tenant/provider)"
            ) from exc

    @staticmethod
    def token_key_id(token: str) -> str:
        """The key id a token names (to find credentials still under a previous key)."""
        return _split(token)[1]


def _split(token: str) -> tuple[str, str, str]:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise DecryptionFailed("malformed token: expected v1.<key_id>.<data>")
    return parts[0], parts[1], parts[2]
