"""Records of the WhatsApp Business fake: accounts, accepted messages, uploads, faults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox._base import FaultTerms

__all__ = ["DeliveredWebhook", "Fault", "SandboxAccount", "SentMessage", "UploadedMedia"]


@dataclass(slots=True)
class SandboxAccount:
    """One business phone number and the secrets Meta would hold for it."""

    phone_number_id: str
    access_token: str
    app_secret: str
    webhook_url: str | None = None
    auto_statuses: tuple[str, ...] = ()
    display_phone_number: str = "15550001234"
    business_account_id: str = "102290129340398"


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the fake accepted: the body exactly as received."""

    wamid: str
    phone_number_id: str
    to: str
    wa_id: str
    type: str
    body: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True, slots=True)
class UploadedMedia:
    id: str
    phone_number_id: str
    mime_type: str
    filename: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class DeliveredWebhook:
    url: str
    body: bytes
    signature: str | None
    http_status: int


@dataclass(slots=True)
class Fault(FaultTerms):
    """What to do to requests for one recipient instead of accepting them.

    ``delay`` seconds pass first (``math.inf``: never answer, until the server stops).
    Then ``raw_body`` is answered as is, or else a Graph error with ``code``; with
    neither (a pure delay) the message is handled normally. ``times`` limits how many
    requests the fault applies to (``None``: all).
    """

    http_status: int = 400
    code: int | None = 131000
    message: str | None = None
    details: str | None = None
    error_type: str = "OAuthException"
