"""Requests, validation cases, the harness base and the ``validate`` test shared by the three
email providers' tests."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

import httpx
import pytest

from providers import InvalidRequest, Provider
from schemas.notification import NotificationRequest
from tests.unit.providers.contract import FakeServiceHarness
from tests.unit.providers.harness import notification

__all__ = [
    "CONTENTS",
    "PDF",
    "PDF_BYTES",
    "RECIPIENT",
    "VALIDATION_CASES",
    "EmailHarness",
    "form_fields",
    "make_request",
    "success_test",
    "validation_test",
]

RECIPIENT = "ana@customer.example"
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PDF = base64.b64encode(PDF_BYTES).decode()

#: One request content per declared content type (``EMAIL_CONTENT_TYPES``).
CONTENTS: dict[str, dict[str, Any]] = {
    "text": {"subject": "Your order has shipped", "body": "It is on its way."},
    "html": {"subject": "Your order has shipped", "html": "<p>It is <b>on its way</b>.</p>"},
    "attachment": {
        "subject": "Your invoice",
        "body": "Attached.",
        "html": "<p>Attached.</p>",
        "media": {"base64": PDF, "mimetype": "application/pdf", "filename": "invoice.pdf"},
    },
}


def make_request(
    content: dict[str, Any], email: str | None = RECIPIENT, **fields: Any
) -> NotificationRequest:
    recipient = {"email": email} if email else {"phone": "+5511999990000"}
    return notification(
        "email", recipient, content, **{"id": f"n-{uuid.uuid4().hex[:12]}", **fields}
    )


#: (recipient email, content, expected InvalidRequest code) for ``validate``.
VALIDATION_CASES: list[tuple[str | None, dict[str, Any], str]] = [
    (None, CONTENTS["text"], "invalid_recipient"),
    ("not-an-address", CONTENTS["text"], "invalid_recipient"),
    ("ana@localhost", CONTENTS["text"], "invalid_recipient"),
    ("ana@@customer.example", CONTENTS["text"], "invalid_recipient"),
    ("ñandú@customer.example", CONTENTS["text"], "invalid_recipient"),
    (RECIPIENT, {"body": "no subject"}, "unsupported_content"),
    (RECIPIENT, {"subject": "   ", "body": "blank subject"}, "unsupported_content"),
    (RECIPIENT, {"subject": "no body"}, "unsupported_content"),
    (RECIPIENT, {"subject": "blank", "body": "  ", "html": " "}, "unsupported_content"),
    (RECIPIENT, {"subject": "two\nlines", "body": "x"}, "invalid_request"),
    (
        RECIPIENT,
        {"subject": "s", "body": "b", "media": {"url": "https://cdn.example/a.pdf"}},
        "unsupported_content",
    ),
    (
        RECIPIENT,
        {"subject": "s", "body": "b", "media": {"base64": "not base64!"}},
        "invalid_request",
    ),
]


class EmailHarness(FakeServiceHarness):
    """An email fake's harness: requests of :data:`CONTENTS`, faults keyed by address.

    A subclass names in ``invalid_email`` a recipient its provider refuses (``None``: a
    request with a phone number and no email address)."""

    invalid_email: ClassVar[str | None]

    def request(self, content_type: str) -> NotificationRequest:
        return make_request(CONTENTS[content_type])

    def invalid_recipient_request(self) -> NotificationRequest:
        return make_request(CONTENTS["text"], email=self.invalid_email)

    def fault_target(self, request: NotificationRequest) -> str:
        return request.recipient.email or ""

    @staticmethod
    def assert_attachments(content_type: str, attachments: Sequence[Any]) -> None:
        """The fake received :data:`CONTENTS`' PDF for ``attachment``, none otherwise."""
        if content_type == "attachment":
            [attachment] = attachments
            assert (attachment.filename, attachment.content_type) == (
                "invoice.pdf",
                "application/pdf",
            )
            assert attachment.data == PDF_BYTES
        else:
            assert attachments == ()


def validation_test(offline_provider: Callable[[], Provider[Any]]) -> Callable[..., None]:
    """The test that ``validate`` refuses each of :data:`VALIDATION_CASES` with its code."""

    @pytest.mark.parametrize(("email", "content", "code"), VALIDATION_CASES)
    def test(email: str | None, content: dict[str, Any], code: str) -> None:
        with pytest.raises(InvalidRequest) as caught:
            offline_provider().validate(make_request(content, email=email))
        assert caught.value.code == code

    return test


def success_test(
    offline_provider: Callable[..., Provider[Any]], answer: httpx.Response, message_id: str
) -> Callable[[], Awaitable[None]]:
    """The test that a send the service answers with ``answer`` returns ``message_id``."""

    async def test() -> None:
        provider = offline_provider(lambda request: answer)
        result = await provider.send(make_request(CONTENTS["text"]))
        assert result.provider_message_id == message_id

    return test


def form_fields(request: httpx.Request) -> dict[str, str]:
    """The fields of a url-encoded form body (tests of the Mailgun payload)."""
    return dict(httpx.QueryParams(request.content.decode()))
