"""AES-GCM credential encryption: round trip, binding, tampering, rotation, bad keys."""

from __future__ import annotations

import base64
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.settings import Settings
from streams.tenancy.crypto import (
    Cipher,
    DecryptionFailed,
    InvalidSecretKey,
    MissingSecretKey,
    decode_key,
    generate_key,
    key_id_of,
)

TOKEN = re.compile(r"^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$")


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def _key() -> bytes:
    return os.urandom(32)


def test_generate_key_is_32_urlsafe_bytes_and_random() -> None:
    key = generate_key()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}=", key)
    assert len(decode_key(key)) == 32
    assert generate_key() != key


def test_decode_key_accepts_missing_padding() -> None:
    key = generate_key()
    assert decode_key(key.rstrip("=")) == decode_key(key)


@given(plaintext=st.binary(max_size=2048), aad=st.binary(max_size=64))
def test_round_trip(plaintext: bytes, aad: bytes) -> None:
    cipher = Cipher(b"k" * 32)
    token = cipher.encrypt(plaintext, aad)
    assert TOKEN.fullmatch(token)
    assert cipher.decrypt(token, aad) == plaintext


def test_token_names_the_key_and_uses_a_fresh_nonce() -> None:
    key = _key()
    cipher = Cipher(key)
    first, second = cipher.encrypt(b"secret", b"t:p"), cipher.encrypt(b"secret", b"t:p")
    assert first != second
    assert cipher.key_id == key_id_of(key) == first.split(".")[1]
    assert re.fullmatch(r"[0-9a-f]{8}", cipher.key_id)
    assert Cipher.token_key_id(first) == cipher.key_id
    assert b"secret" not in base64.urlsafe_b64decode(first.split(".")[2] + "==")


def test_wrong_aad_fails() -> None:
    cipher = Cipher(_key())
    token = cipher.encrypt(b"secret", b"acme:whatsapp-business")
    with pytest.raises(DecryptionFailed, match="authentication"):
        cipher.decrypt(token, b"other:whatsapp-business")


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1])
def test_tampering_fails(position: int) -> None:
    cipher = Cipher(_key())
    version, key_id, body = cipher.encrypt(b"secret credentials", b"aad").split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    forged = ".".join([version, key_id, base64.urlsafe_b64encode(bytes(raw)).decode()])
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(forged, b"aad")


@pytest.mark.parametrize(
    "token",
    ["", "v1", "v1.abcd1234", "v2.abcd1234.AAAA", "v1..AAAA", "v1.abcd1234.!!!!", "a.b.c.d"],
)
def test_malformed_tokens_fail(token: str) -> None:
    with pytest.raises(DecryptionFailed):
        Cipher(_key()).decrypt(token, b"aad")


def test_short_body_fails() -> None:
    cipher = Cipher(_key())
    body = base64.urlsafe_b64encode(b"x" * 12).decode()
    with pytest.raises(DecryptionFailed, match="too short"):
        cipher.decrypt(f"v1.{cipher.key_id}.{body}", b"aad")


def test_rotation_decrypts_with_previous_keys() -> None:
    old, new = _key(), _key()
    token = Cipher(old).encrypt(b"secret", b"aad")
    rotated = Cipher(new, [old])
    assert rotated.decrypt(token, b"aad") == b"secret"
    assert Cipher.token_key_id(rotated.encrypt(b"secret", b"aad")) == key_id_of(new)
    assert rotated.key_ids == [key_id_of(new), key_id_of(old)]


def test_unknown_key_fails_with_a_clear_message() -> None:
    token = Cipher(_key()).encrypt(b"secret", b"aad")
    with pytest.raises(DecryptionFailed, match="HERALD_PREVIOUS_SECRET_KEYS"):
        Cipher(_key()).decrypt(token, b"aad")


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_cipher_rejects_keys_of_the_wrong_length(length: int) -> None:
    with pytest.raises(InvalidSecretKey):
        Cipher(b"k" * length)
    with pytest.raises(InvalidSecretKey):
        Cipher(_key(), [b"k" * length])


@pytest.mark.parametrize(
    "text",
    ["not base64 at all!", base64.urlsafe_b64encode(b"short").decode(), "", "====", "a+b/" * 11],
)
def test_decode_key_rejects_bad_keys(text: str) -> None:
    with pytest.raises(InvalidSecretKey, match="HERALD_SECRET_KEY"):
        decode_key(text)


def test_from_settings_refuses_without_a_key() -> None:
    with pytest.raises(MissingSecretKey, match="herald keygen"):
        Cipher.from_settings(_settings())
    with pytest.raises(MissingSecretKey):
        Cipher.from_settings(_settings(secret_key="  "))


def test_from_settings_rejects_a_bad_key() -> None:
    with pytest.raises(InvalidSecretKey, match="HERALD_SECRET_KEY"):
        Cipher.from_settings(_settings(secret_key="too-short"))
    with pytest.raises(InvalidSecretKey, match=r"HERALD_PREVIOUS_SECRET_KEYS\[1\]"):
        Cipher.from_settings(
            _settings(secret_key=generate_key(), previous_secret_keys=f"{generate_key()},bad")
        )


def test_from_settings_with_previous_keys() -> None:
    old1, old2, new = generate_key(), generate_key(), generate_key()
    token = Cipher(decode_key(old2)).encrypt(b"secret", b"aad")
    cipher = Cipher.from_settings(
        _settings(secret_key=new, previous_secret_keys=f" {old1} , {old2},")
    )
    assert cipher.key_id == key_id_of(decode_key(new))
    assert cipher.decrypt(token, b"aad") == b"secret"
    assert len(cipher.key_ids) == 3
