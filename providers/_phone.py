"""Phone number handling shared by the phone-addressed providers."""

from __future__ import annotations

import re

from schemas.errors import InvalidRequest

__all__ = ["sanitize_phone"]

#: What a human spelling of a number may contain: ASCII digits, an optional leading "+",
#: and the separators ``( ) - .`` and spaces. Nothing else: no words ("call me 55... now"),
#: no other scripts' digits (Arabic-Indic digits are digits to ``str.isdigit`` and ``\d``).
_SPELLING = re.compile(r"\+?[0-9 ().-]+")
_SEPARATORS = re.compile(r"[ ().-]+")


def sanitize_phone(raw: str | None) -> str:
    """Digits only, E.164 length (8 to 15 digits, no leading zero); else ``invalid_recipient``.

    Accepts the usual human spellings: ``+55 (11) 99999-9999``, ``0055...`` is not
    accepted (a leading zero means a national or trunk prefix, not a country code).
    """
    if not raw:
        raise InvalidRequest("invalid_recipient", "recipient.phone is required for this channel")
    spelled = raw.strip(" ")
    if not _SPELLING.fullmatch(spelled):
        raise InvalidRequest(
            "invalid_recipient",
            "recipient.phone may hold only ASCII digits, a leading '+', spaces and ( ) - .",
        )
    digits = _SEPARATORS.sub("", spelled.removeprefix("+"))
    if not 8 <= len(digits) <= 15 or digits.startswith("0"):
        raise InvalidRequest(
            "invalid_recipient",
            "recipient.phone must be an international number of 8 to 15 digits (E.164)",
        )
    return digits
