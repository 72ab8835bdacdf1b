"""How the real services sign their webhooks, written here from their public documentation.

The fakes sign with these, never with Herald's own verification code, so that a fake
stays an oracle: a mistake in Herald's check cannot be mirrored by the fake. Each scheme
is pinned by a test against a published vector where the service publishes one
(``tests/unit/sandbox/test_signatures.py``: Twilio's documented example).

* Twilio ("Webhooks security"): base64 HMAC-SHA1, keyed by the auth token, of the full URL
  followed by every POST parameter sorted by name, each as name then value.
* Meta Graph webhooks ("Event notifications"): ``sha256=`` + hex HMAC-SHA256 of the raw
  body, keyed by the app secret.
* Mailgun ("Securing webhooks"): hex HMAC-SHA256 of ``timestamp + token``, keyed by the
  HTTP webhook signing key.
* SendGrid ("Event Webhook security features"): base64 of the DER ECDSA P-256 / SHA-256
  signature of ``timestamp + payload``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "META_SIGNATURE_HEADER",
    "SENDGRID_SIGNATURE_HEADER",
    "SENDGRID_TIMESTAMP_HEADER",
    "TWILIO_SIGNATURE_HEADER",
    "mailgun_signature",
    "meta_signature",
    "sendgrid_signature",
    "twilio_signature",
]

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
META_SIGNATURE_HEADER = "X-Hub-Signature-256"
SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    signed = url
    for name, value in sorted(params):
        signed += name + value
    mac = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def meta_signature(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def mailgun_signature(timestamp: str, token: str, signing_key: str) -> str:
    message = f"{timestamp}{token}".encode()
    return hmac.new(signing_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sendgrid_signature(body: bytes, timestamp: str, key: ec.EllipticCurvePrivateKey) -> str:
    der = key.sign(timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode("ascii")
