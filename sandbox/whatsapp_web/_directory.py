"""Who is on WhatsApp, and how WhatsApp addresses each number's chat (the phone's side).

A mixin of :class:`~sandbox.whatsapp_web.simulator.WhatsAppWebSimulator`: numbers marked
as not on WhatsApp (``queryExists`` answers ``null``, sends fail ``chat_not_found``), and
numbers whose chat WhatsApp addresses by a LID (``queryExists`` answers ``lid``; the
chat, its message keys and its acks use ``<lid>@lid``), as it does for newer accounts.
"""

from __future__ import annotations

import secrets

from sandbox._base import ChangeNotifier
from sandbox.whatsapp_web._protocol import clean_phone

__all__ = ["Directory"]


class Directory(ChangeNotifier):
    def __init__(self) -> None:
        super().__init__()
        #: Phone numbers (digits) that are not on WhatsApp.
        self.not_on_whatsapp: set[str] = set()
        #: Phone numbers (digits) WhatsApp addresses by a LID (``use_lid``) -> the LID user.
        self.lids: dict[str, str] = {}

    def mark_not_on_whatsapp(self, phone: str) -> str:
        digits = clean_phone(phone)
        self.not_on_whatsapp.add(digits)
        return digits

    def mark_on_whatsapp(self, phone: str) -> str:
        digits = clean_phone(phone)
        self.not_on_whatsapp.discard(digits)
        return digits

    def use_lid(self, phone: str, lid: str | None = None) -> str:
        """Address ``phone``'s chat by a LID from now on (``lid`` digits, else a random one);
        returns the chat id ``<lid>@lid``."""
        digits = clean_phone(phone)
        found = clean_phone(lid) if lid else str(secrets.randbelow(9 * 10**14) + 10**14)
        self.lids[digits] = found
        self.notify()
        return f"{found}@lid"

    def phone_of_lid(self, lid: str) -> str | None:
        """The phone number (digits) a LID user stands for, if one was given (``use_lid``)."""
        return next((phone for phone, known in self.lids.items() if known == lid), None)
