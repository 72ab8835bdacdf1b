"""The fakes' webhook signatures: written from the services' documentation, pinned by their
published vectors where there is one, and accepted by Herald's own (separate) checks."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric import ec

from providers import mailgun, sendgrid, twilio, whatsapp_business
from sandbox._signatures import (
    mailgun_signature,
    meta_signature,
    sendgrid_signature,
    twilio_signature,
)

# Twilio's documented example (the "Webhooks security" guide and its helper libraries'
# RequestValidator tests): auth token 12345, this URL and these POST parameters.
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]


def test_twilio_signature_matches_twilios_published_vector() -> None:
    assert twilio_signature(TWILIO_URL, TWILIO_PARAMS, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    shuffled = list(reversed(TWILIO_PARAMS))
    assert twilio_signature(TWILIO_URL, shuffled, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature(TWILIO_URL + "&x=1", TWILIO_PARAMS, "12345") != (
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )


def test_herald_accepts_the_published_twilio_vector() -> None:
    header = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio.verify_signature(TWILIO_URL, TWILIO_PARAMS, header, "12345")
    assert not twilio.verify_signature(TWILIO_URL, TWILIO_PARAMS, header, "54321")


def test_meta_signature_is_checked_by_herald_and_bound_to_body_and_secret() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    header = meta_signature(body, "app-secret")
    assert header.startswith("sha256=")
    assert len(header) == 7 + 64
    assert whatsapp_business.verify_signature(body, header, "app-secret")
    assert not whatsapp_business.verify_signature(body + b" ", header, "app-secret")
    assert not whatsapp_business.verify_signature(body, header, "other-secret")


def test_mailgun_signature_is_checked_by_herald() -> None:
    stamp, token = str(int(time.time())), "a" * 50
    signature = mailgun_signature(stamp, token, "signing-key")
    assert mailgun.verify_signature(stamp, token, signature, "signing-key")
    assert not mailgun.verify_signature(stamp, token + "b", signature, "signing-key")
    assert not mailgun.verify_signature(stamp, token, signature, "other-key")


def test_sendgrid_signature_is_checked_by_herald_with_the_public_key_only() -> None:
    import base64

    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    body, stamp = b'[{"event":"delivered"}]', str(int(time.time()))
    signature = sendgrid_signature(body, stamp, key)
    assert sendgrid.verify_signature(body, signature, stamp, public)
    assert not sendgrid.verify_signature(body + b" ", signature, stamp, public)
    assert not sendgrid.verify_signature(body, signature, str(int(stamp) + 1), public)
