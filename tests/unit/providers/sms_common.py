"""The recipient, request and harness base shared by the two SMS providers' tests (twilio
and sns)."""

from __future__ import annotations

from typing import Any

from schemas.notification import NotificationRequest
from tests.unit.providers.contract import FakeServiceHarness
from tests.unit.providers.harness import notification

__all__ = ["RECIPIENT", "RECIPIENT_E164", "TEXT", "SmsHarness", "make_request"]

RECIPIENT = "+55 (11) 98765-4321"
RECIPIENT_E164 = "+5511987654321"
TEXT = {"body": "Your code is 123456"}


def make_request(content: dict[str, Any], phone: str | None = RECIPIENT) -> NotificationRequest:
    """An SMS request to ``phone`` (without one, to an email address)."""
    return notification("sms", {"phone": phone} if phone else {"email": "a@example.com"}, content)


class SmsHarness(FakeServiceHarness):
    """An SMS fake's harness: :data:`TEXT` (the one content type) to :data:`RECIPIENT`,
    whose number the fake's faults are keyed by."""

    def request(self, content_type: str) -> NotificationRequest:
        assert content_type == "text"
        return make_request(TEXT)

    def invalid_recipient_request(self) -> NotificationRequest:
        return make_request(TEXT, phone="12")

    def fault_target(self, request: NotificationRequest) -> str:
        return RECIPIENT
