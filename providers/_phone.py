"""Phone number handling shared by the phone-addressed providers."""

from __future__ import annotations

import re

from schemas.errors import InvalidRequest

__all__ = ["sanitize_phone"]

_NON_DIGITS = re.compile(r"\D+")


def sanitize_phone(raw: str | None) -> str:
    """Digits only, E.164 length (8 to 15 digits, no leading zero); else ``invalid_recipient``.

    Accepts the usual human spellings: ``+55 (11) 99999-9999``, ``0055...`` is not
    accepted (a leading zero means a national or trunk prefix, not a country code).
    """
    if not raw:
        raise InvalidRequest("invalid_recipient", "recipient.phone is required for this channel")
    digits = _NON_DIGITS.sub("", raw)
    if not 8 <= len(digits) <= 15 or digits.startswith("0"):
        raise InvalidRequest(
            "invalid_recipient",
            "recipient.phone must be an international number of 8 to 15 digits (E.164)",
        )
    return digits
