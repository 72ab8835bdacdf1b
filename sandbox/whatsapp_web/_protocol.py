"""Pure helpers of the WhatsApp Web simulator: ids, auth codes, signatures, phone numbers.

The page <-> server link is one WebSocket (``GET /ws``) carrying JSON text frames, each an
object with a ``type``. Every request the page makes carries a ``seq`` that the answer
echoes. Version 1 of the protocol:

Server -> page

===============  ===========================================================================
``welcome``      first frame: ``challenge`` (base64, 32 random bytes, fresh per socket) and
                 ``config`` (``queryCacheHitMs``, ``queryCacheMissMs``, ``reloadOnLogout``,
                 ``reloadAfterPairing``, ``reconnectDelayMs``)
``ref``          a new auth code ref for an unpaired page: ``ref``, ``index`` (1-based)
``idle``         the code rotation gave up (``max_codes`` codes expired): UNPAIRED_IDLE
``paired``       the phone scanned this page's code: ``deviceId`` (``<phone>:<n>@c.us``),
                 ``phone``; the page must answer ``register``
``connected``    login accepted (after ``register``, a stored-pairing ``hello`` or a
                 ``takeover``): ``deviceId``, ``phone``, ``resumed`` (bool)
``pair-failed``  the phone scanned this page's code but the link failed (``/phone/scan``
                 with ``fail``): ``reason``; new ``ref`` frames follow
``rejected``     a stored-pairing login refused: ``reason`` (a LogoutReason value)
``logout``       the phone removed this device: ``reason``
``conflict``     this device is now used from another page (or ``/phone/conflict``)
``blocked``      WhatsApp refuses this device (``/phone/block``): ``state`` (``TOS_BLOCK``,
                 ``SMB_TOS_BLOCK``, ``PROXYBLOCK`` or ``DEPRECATED_VERSION``)
``outdated``     the page's build (``hello``'s ``version``) is older than the simulator's
                 ``min_version``: the page sets ``Stream.needsUpdate`` (wa-js
                 ``conn.needs_update``) and goes ``DEPRECATED_VERSION``
``unavailable``  the phone is offline (``/phone/disconnect``); the socket closes next
``result``       answer to a request: ``seq``, ``ok``, then ``t`` (send), ``exists``
                 (``find-chat``/``query-exists``), ``code`` (``link-code``) or ``error``
                 {``code``, ``message``}
``ack``          a receipt: ``ack`` (-7..4), ``chat`` (``<user>@c.us``), ``ids`` (message key ids)
``message``      an incoming message: ``message`` {``id``, ``from``, ``to``, ``body``,
                 ``type``, ``t``, ``notifyName``}
===============  ===========================================================================

Page -> server

================  ==========================================================================
``hello``         after ``welcome``: ``deviceId`` and ``signature`` (base64 raw ECDSA P-256
                  over the challenge) for a stored pairing, or ``keys`` {``staticKeyPair``,
                  ``identityKeyPair``, ``secretKey``} for an unpaired page; both with
                  ``version``, the page's build (``<meta name="wa-version">``)
``refresh-qr``    restart the code rotation (``WPP.conn.refreshQR()``)
``register``      after ``paired``: ``deviceId``, ``publicKey`` (base64 SPKI of the new
                  non-extractable key pair) and ``signature`` over the challenge
``link-code``     ``seq``, ``phone``: a pairing code to link by phone number (unpaired
                  pages only; ``WPP.conn.genLinkDeviceCodeForPhoneNumber``)
``find-chat``     ``seq``, ``user``, ``server``: does the chat exist (number on WhatsApp)?
``query-exists``  ``seq``, ``user``, ``server`` (``WPP.contact.queryExists``)
``send``          ``seq``, ``message`` {``id`` (key id), ``to`` (chat id), ``type``, ``body``,
                  ``caption``, ``filename``, ``mimetype``, ``media`` (base64), ``location``,
                  ``contacts``, ``vcard``}
``takeover``      use this page again after a conflict (``WPP.whatsapp.Socket.takeover()``)
``logout``        ``WPP.conn.logout()``: forget this device
================  ==========================================================================
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = [
    "ACK_MAX",
    "ACK_MIN",
    "BLOCK_STATES",
    "PROTOCOL_VERSION",
    "AuthCodeParts",
    "ChatId",
    "build_key",
    "clean_phone",
    "format_full_code",
    "incoming_key_id",
    "load_public_key",
    "new_ref",
    "parse_chat_id",
    "parse_full_code",
    "parse_serialized_key",
    "serialize_key",
    "verify_signature",
]

#: Socket states of a device WhatsApp refuses (``/phone/block``).
BLOCK_STATES = frozenset({"TOS_BLOCK", "SMB_TOS_BLOCK", "PROXYBLOCK", "DEPRECATED_VERSION"})

PROTOCOL_VERSION = 1
#: ``ACK`` of the pinned wa-js (``whatsapp/enums/ACK.d.ts``): MD_DOWNGRADE (-7) .. PLAYED (4).
ACK_MIN = -7
ACK_MAX = 4

_DIGITS = re.compile(r"^[1-9][0-9]{7,14}$")
_NON_DIGITS = re.compile(r"\D+")
_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_KEY_ID = re.compile(r"^[0-9A-Za-z]{8,64}$")
_SERVERS = {"c.us": "c.us", "s.whatsapp.net": "c.us", "lid": "lid"}


def clean_phone(raw: object) -> str:
    """Digits of an international number (8 to 15, no leading zero); ``ValueError`` otherwise.

    Accepts human spellings (``+55 (11) 99999-0000``) and wids (``5511999990000@c.us``).
    """
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise ValueError("phone must be a string of digits")
    text = str(raw).split("@", 1)[0].split(":", 1)[0]
    digits = _NON_DIGITS.sub("", text)
    if not _DIGITS.match(digits):
        raise ValueError(f"phone must have 8 to 15 digits and no leading zero, got {raw!r}")
    return digits


@dataclass(frozen=True, slots=True)
class ChatId:
    """A one-to-one chat id: ``user`` digits on ``server`` ``c.us`` or ``lid``."""

    user: str
    server: str

    @property
    def serialized(self) -> str:
        return f"{self.user}@{self.server}"


def parse_chat_id(raw: object) -> ChatId:
    """``5511999990000@c.us``, ``123456789012345@lid`` or bare digits; ``ValueError`` otherwise.

    ``@s.whatsapp.net`` is read as ``@c.us``, as WhatsApp Web's wid factory does. Groups,
    broadcasts and newsletters are not simulated.
    """
    if not isinstance(raw, str) or not raw:
        raise ValueError("chat id must be a non-empty string")
    user, at, server = raw.partition("@")
    server = _SERVERS.get(server, "") if at else "c.us"
    user = user.split(":", 1)[0]
    if not server or not user.isdigit() or not 5 <= len(user) <= 20:
        raise ValueError(f"not a one-to-one chat id: {raw!r}")
    return ChatId(user, server)


def serialize_key(from_me: bool, remote: str, key_id: str) -> str:
    """A MsgKey's ``_serialized`` form: ``true_5511999990000@c.us_3EB0...``."""
    return f"{'true' if from_me else 'false'}_{remote}_{key_id}"


def parse_serialized_key(raw: str) -> tuple[bool, str, str]:
    """``(from_me, remote, id)`` of a serialized MsgKey; ``ValueError`` if it is not one."""
    head, sep, rest = raw.partition("_")
    remote, sep2, key_id = rest.rpartition("_")
    if not sep or not sep2 or head not in ("true", "false") or "@" not in remote:
        raise ValueError(f"not a serialized message key: {raw!r}")
    if not _KEY_ID.match(key_id):
        raise ValueError(f"not a message id: {key_id!r}")
    return head == "true", remote, key_id


def incoming_key_id() -> str:
    """Id of a message written on a phone (32 upper-case hex digits, like Android's)."""
    return secrets.token_hex(16).upper()


def new_ref() -> str:
    """A pairing ref as the server hands them out (``2@`` then base64; never a comma)."""
    return "2@" + base64.b64encode(secrets.token_bytes(48)).decode()


@dataclass(frozen=True, slots=True)
class AuthCodeParts:
    """The four comma-separated parts of an ``AuthCodeMultiDevice.fullCode`` (what a QR holds)."""

    ref: str
    static_key_pair: str
    identity_key_pair: str
    secret_key: str

    @property
    def full_code(self) -> str:
        return format_full_code(
            self.ref, self.static_key_pair, self.identity_key_pair, self.secret_key
        )


def format_full_code(ref: str, static_key: str, identity_key: str, secret_key: str) -> str:
    """``ref,staticKeyPair,identityKeyPair,secretKey``, as wa-js ``getAuthCode`` builds it."""
    return ",".join((ref, static_key, identity_key, secret_key))


def parse_full_code(code: object) -> AuthCodeParts:
    """Split a QR's text into its parts; ``ValueError`` when it is not a multi-device code."""
    if not isinstance(code, str):
        raise ValueError("code must be a string")
    parts = code.strip().split(",")
    if len(parts) != 4 or not parts[0].startswith("2@"):
        raise ValueError("code is not a WhatsApp multi-device auth code (ref,key,key,secret)")
    for part in parts[1:]:
        if not _B64.match(part):
            raise ValueError("code keys must be base64")
    return AuthCodeParts(*parts)


def verify_signature(public_key_spki: bytes, message: bytes, signature_b64: object) -> bool:
    """Check a WebCrypto ECDSA P-256/SHA-256 signature (raw ``r || s``, base64) over ``message``."""
    if not isinstance(signature_b64, str):
        return False
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        key = serialization.load_der_public_key(public_key_spki)
    except (binascii.Error, ValueError):
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey) or len(raw) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def load_public_key(spki_b64: object) -> bytes:
    """DER bytes of a base64 SPKI P-256 public key; ``ValueError`` when it is not one."""
    if not isinstance(spki_b64, str):
        raise ValueError("publicKey must be base64 text")
    try:
        der = base64.b64decode(spki_b64, validate=True)
        key = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("publicKey is not a base64 SPKI public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("publicKey must be an ECDSA P-256 key")
    return der


def build_key(version: object) -> tuple[int, int, int] | None:
    """``2.3000.1048032155-alpha`` -> ``(2, 3000, 1048032155)``; ``None`` if not a build."""
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)", version) if isinstance(version, str) else None
    return (int(match[1]), int(match[2]), int(match[3])) if match else None
