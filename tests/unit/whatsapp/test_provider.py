"""The wppconnect provider: registration, validation, content detection, acks, QR codes."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import segno

from providers import InvalidRequest, PermanentError
from providers.registry import NOT_IMPLEMENTED, REGISTRY
from providers.wppconnect import (
    ACK,
    WPPConnectCredentials,
    WPPConnectProvider,
    ack_outcome,
    build_call,
    render_qr,
    to_wid,
)
from schemas import NotificationRequest, Status
from schemas.whatsapp import STATUS_ALIASES, SessionStatus
from tests.helpers import make_settings

CREDS = WPPConnectCredentials(session_name="support", phone_number_id="wpp-1")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def request(content: dict[str, Any], phone: str = "+55 (11) 99999-0001") -> NotificationRequest:
    return NotificationRequest.model_validate(
        {
            "id": "n-1",
            "tenantId": "acme",
            "channel": "whatsapp",
            "recipient": {"phone": phone},
            "content": content,
        }
    )


def provider(enabled: bool = True) -> WPPConnectProvider:
    return WPPConnectProvider(
        CREDS, http=httpx.AsyncClient(), settings=make_settings(wppconnect_enabled=enabled)
    )


def test_registered_with_the_seed_declarations() -> None:
    assert REGISTRY["wppconnect"] is WPPConnectProvider
    assert "wppconnect" not in NOT_IMPLEMENTED
    assert WPPConnectProvider.channel.value == "whatsapp"
    assert WPPConnectProvider.handoff_role == "whatsapp"
    assert WPPConnectProvider.required_credentials() == ["sessionName", "phoneNumberId"]
    assert WPPConnectProvider.info.content_types == ("text", "media", "location", "contact")


def test_content_type_order_is_media_location_contact_text() -> None:
    everything = {
        "body": "b",
        "media": {"base64": PNG, "mimetype": "image/png"},
        "location": {"latitude": 1, "longitude": 2},
        "contact": {"contactId": "5511999990002"},
    }
    assert build_call(request(everything)).function == "chat.sendFileMessage"
    del everything["media"]
    assert build_call(request(everything)).function == "chat.sendLocationMessage"
    del everything["location"]
    assert build_call(request(everything)).function == "chat.sendVCardContactMessage"
    del everything["contact"]
    call = build_call(request(everything))
    assert (call.function, call.chat_id, call.args) == (
        "chat.sendTextMessage",
        "5511999990001@c.us",
        ("b", {}),
    )


def test_call_shapes_follow_the_declarations() -> None:
    media = build_call(
        request(
            {"media": {"base64": PNG, "filename": "a.png", "mimetype": "image/png", "caption": "c"}}
        )
    )
    data_url, options = media.args
    assert data_url == f"data:image/png;base64,{PNG}"
    assert options == {
        "type": "auto-detect",
        "mimetype": "image/png",
        "filename": "a.png",
        "caption": "c",
    }
    loc = build_call(
        request({"location": {"latitude": -23.5, "longitude": -46.6, "name": "N", "address": "A"}})
    )
    assert loc.args == ({"lat": -23.5, "lng": -46.6, "name": "N", "address": "A"},)
    card = build_call(request({"contact": {"contactId": "+55 11 95555-4444", "name": "Ana"}}))
    assert card.args == ({"id": "5511955554444@c.us", "name": "Ana"},)


@pytest.mark.parametrize(
    ("content", "phone", "code"),
    [
        ({"body": "hi"}, "12", "invalid_recipient"),
        ({"body": "hi"}, "0055 11 99999 0001", "invalid_recipient"),
        ({"body": "   "}, "+5511999990001", "unsupported_content"),
        ({"media": {"url": "https://x/a.png"}}, "+5511999990001", "unsupported_content"),
        ({"media": {"base64": "not base64!"}}, "+5511999990001", "invalid_request"),
        ({"contact": {"contactId": "nobody"}}, "+5511999990001", "unsupported_content"),
    ],
)
def test_validate_rejects(content: dict[str, Any], phone: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        provider().validate(request(content, phone))
    assert caught.value.code == code


def test_disabled_provider_rejects_and_send_is_not_for_the_router() -> None:
    with pytest.raises(InvalidRequest) as caught:
        provider(enabled=False).validate(request({"body": "hi"}))
    assert caught.value.code == "provider_inactive"
    sending = provider().send(request({"body": "hi"}))
    with pytest.raises(PermanentError, match="herald worker whatsapp"):
        asyncio.run(sending)


def test_phone_numbers_and_ids_become_wids() -> None:
    assert to_wid("+1 (202) 555-0100") == "12025550100@c.us"
    assert to_wid("12025550100@c.us") == "12025550100@c.us"


@pytest.mark.parametrize(
    ("ack", "status", "code"),
    [
        (ACK.SENT, Status.SENT, None),
        (ACK.RECEIVED, Status.DELIVERED, None),
        (ACK.READ, Status.READ, None),
        (ACK.PLAYED, Status.READ, None),
        (ACK.FAILED, Status.FAILED, "failed"),
        (ACK.EXPIRED, Status.FAILED, "expired"),
        (ACK.INACTIVE, Status.FAILED, "inactive"),
        (ACK.MD_DOWNGRADE, Status.FAILED, "md_downgrade"),
        (ACK.CONTENT_TOO_BIG, Status.FAILED, "content_too_big"),
    ],
)
def test_ack_mapping(ack: int, status: Status, code: str | None) -> None:
    outcome = ack_outcome(ack)
    assert outcome is not None
    assert outcome.status == status
    assert (outcome.error.code if outcome.error else None) == code
    if outcome.error:
        assert outcome.error.retryable is False
    assert outcome.metadata == ({"played": True} if ack == ACK.PLAYED else {})


@pytest.mark.parametrize("ack", [ACK.CLOCK, ACK.PEER, 42])
def test_acks_that_change_nothing(ack: int) -> None:
    assert ack_outcome(ack) is None


def test_qr_rendering() -> None:
    code = "2@ref,static,identity,secret"
    now = datetime(2026, 1, 8, 10, 4, tzinfo=UTC)
    qr = render_qr(code, attempts=3, ttl_ms=60000, now=now)
    assert qr.url_code == code
    assert qr.attempts == 3
    assert qr.expires_at == now + timedelta(seconds=60)
    header, _, data = qr.qr_code.partition(",")
    assert header == "data:image/png;base64"
    png = base64.b64decode(data)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # The terminal text is the same matrix as the QR code of the code (two rows a line).
    matrix = segno.make(code, error="l", micro=False).matrix
    lines = qr.ascii_qr.strip("\n").splitlines()
    assert len(lines) == (len(matrix) + 4 + 1) // 2
    assert {len(line) for line in lines} == {len(matrix) + 4}
    wire = qr.model_dump(by_alias=True, mode="json")
    assert set(wire) == {"qrCode", "asciiQR", "urlCode", "expiresAt", "attempts"}


#: WPPConnect's statusFind strings, as its sources spell them (StatusFind), and the seed's
#: ``deleteToken``.
WPPCONNECT_STATUS_FIND = {
    "autocloseCalled",
    "browserClose",
    "desconnectedMobile",
    "inChat",
    "isLogged",
    "notLogged",
    "phoneNotConnected",
    "qrReadError",
    "qrReadFail",
    "qrReadSuccess",
    "serverClose",
    "deleteToken",
}


def test_statuses_are_spelled_as_wppconnect_spells_them() -> None:
    herald_own = {"sessionFailed", "sessionRefused", "wrongNumber"}
    emitted = {s.value for s in SessionStatus}
    assert emitted - herald_own <= WPPCONNECT_STATUS_FIND
    assert SessionStatus.DISCONNECTED_MOBILE.value == "desconnectedMobile"
    # The dictionary spelling is read as WPPConnect's, never emitted.
    assert STATUS_ALIASES == {"disconnectedMobile": "desconnectedMobile"}
    assert SessionStatus("disconnectedMobile") is SessionStatus.DISCONNECTED_MOBILE
