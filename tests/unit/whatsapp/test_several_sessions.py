"""Several sessions of one tenant over fake pages: ids, keys, profiles, the number check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from providers import RetryableError
from providers.wppconnect import WppCall, WPPConnectCredentials
from schemas import NotificationRequest
from streams.whatsapp import SessionOptions, qr_key, session_key, session_name, token_key
from streams.whatsapp.lease import fence_key, lease_key
from streams.whatsapp.naming import session_id, split_sid, tagged
from streams.whatsapp.options import options_for
from streams.whatsapp.tokens import tombstone_key
from tests.helpers import make_settings
from tests.unit.whatsapp.fakes import FakeWorld, closing_sessions

TEXT = WppCall("chat.sendTextMessage", "5511999990001@c.us", ("hello", {}), "text")


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[FakeWorld]:
    async with closing_sessions(FakeWorld(tmp_path)) as w:
        yield w


def test_the_first_session_keeps_the_single_session_keys() -> None:
    assert session_id("acme", "wppconnect") == "acme"
    assert session_id("acme", None) == "acme"
    assert (
        qr_key("acme"),
        session_key("acme"),
        token_key("acme"),
        tombstone_key("acme"),
        lease_key("acme"),
        fence_key("acme"),
        session_name("acme"),
    ) == (
        "wppconnect:qr:acme",
        "wppconnect:session:acme",
        "wppconnect:token:{acme}",
        "wppconnect:tombstone:{acme}",
        "wppconnect:lease:{acme}",
        "wppconnect:fence:{acme}",
        "tenant-acme",
    )


def test_further_sessions_carry_their_name_and_the_tenant_hash_tag() -> None:
    sid = session_id("acme:eu", "wppconnect@sales")
    assert sid == "acme:eu@sales"
    assert split_sid(sid) == ("acme:eu", "sales")
    assert tagged(sid) == "{acme:eu}@sales"
    assert lease_key(sid) == "wppconnect:lease:{acme:eu}@sales"
    assert token_key(sid) == "wppconnect:token:{acme:eu}@sales"
    assert qr_key(sid) == "wppconnect:qr:acme:eu@sales"
    assert session_name(sid) == "tenant-acme:eu@sales"


def test_phone_number_id_is_the_expected_number_when_it_is_one() -> None:
    def expected(value: str) -> str | None:
        return WPPConnectCredentials(session_name="s", phone_number_id=value).expected_phone()

    assert expected("+55 11 92222-0002") == "5511922220002"
    assert expected("5511922220002") == "5511922220002"
    assert expected("wpp-support") is None  # a label
    assert expected("1065") is None  # too short for a number
    assert expected("0011922220002") is None
    creds = WPPConnectCredentials(session_name="s", phone_number_id="+5511922220002")
    assert options_for(make_settings(), creds).expected_phone == "5511922220002"


def test_use_chrome_of_old_integrations_is_accepted_and_dropped() -> None:
    creds = WPPConnectCredentials.model_validate(
        {"sessionName": "s", "phoneNumberId": "p", "useChrome": False}
    )
    assert "useChrome" not in creds.model_dump(by_alias=True)
    assert "use_chrome" not in WPPConnectCredentials.model_fields


def test_sender_is_part_of_the_request() -> None:
    base = {
        "id": "1",
        "tenantId": "acme",
        "channel": "whatsapp",
        "recipient": {"phone": "+5511999990001"},
    }
    assert NotificationRequest.model_validate({**base, "sender": "sales"}).sender == "sales"
    assert NotificationRequest.model_validate(base).sender is None
    with pytest.raises(ValueError, match="sender"):
        NotificationRequest.model_validate({**base, "sender": ""})


async def test_two_sessions_of_one_tenant_pair_and_send_apart(world: FakeWorld) -> None:
    options = SessionOptions(auto_close_ms=0)
    support = await world.manager.ensure("acme", options)
    sales = await world.manager.ensure("acme@sales", options)
    assert support is not sales
    assert (support.tenant_id, sales.tenant_id) == ("acme", "acme")
    assert (support.sid, sales.sid) == ("acme", "acme@sales")
    await world.events.wait(lambda r: len(r.qrs) == 2)
    pages = {d.spec.session: d for d in world.fake.drivers}
    assert set(pages) == {"tenant-acme", "tenant-acme@sales"}
    assert pages["tenant-acme@sales"].spec.profile_dir.name == "tenant-acme@sales"
    pages["tenant-acme@sales"].scan("5511922220002")
    pages["tenant-acme"].scan("5511911110001")
    async with asyncio.timeout(5):
        await world.manager.send(sales, TEXT)
        await world.manager.send(support, TEXT)
    assert [s.session for s in world.fake.sent] == ["tenant-acme@sales", "tenant-acme"]
    assert (support.phone, sales.phone) == ("5511911110001", "5511922220002")
    # Closing one leaves the other running.
    assert await world.manager.close("acme@sales")
    assert support.running
    assert not sales.running


async def test_a_login_by_another_number_is_reported_and_logged_out(world: FakeWorld) -> None:
    options = SessionOptions(auto_close_ms=0, expected_phone="5511922220002")
    session = await world.manager.ensure("acme@sales", options)
    await world.events.wait(lambda r: len(r.qrs) == 1)
    sending = asyncio.create_task(world.manager.send(session, TEXT))
    page = world.fake.drivers[-1]
    page.scan("5511933330003")
    with pytest.raises(RetryableError) as caught:
        async with asyncio.timeout(5):
            await sending
    assert caught.value.code == "session_wrong_number"
    statuses = world.events.statuses
    wrong = [detail for _, status, detail in statuses if status == "wrongNumber"]
    assert len(wrong) == 1
    assert "5511933330003" in str(wrong[0])
    assert "inChat" not in [status for _, status, _ in statuses]
    assert ("conn.logout", ()) in page.calls
    assert not page.paired  # the wrong number's device is unlinked
    assert world.fake.sent == []
