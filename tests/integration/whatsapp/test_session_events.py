"""The session event stream's logic against a real redis-server (no broker, no browser).

The owning worker's sink publishes (``PublishingSink``); another process's stream
(``LiveEvents``) delivers: the current state first, then each event (the tenant's key,
budgets and lost connections: test_session_event_limits.py; the world: live_world.py).
"""

from __future__ import annotations

import orjson
import pytest
from redis.asyncio import Redis

from providers.wppconnect import render_qr
from schemas.whatsapp import ConnectionState, QrCodeEvent, SessionStateEvent, SessionStatus
from streams.whatsapp.store import qr_ref
from tests.integration.whatsapp.live_world import open_stream, publish_by_reference, status, world

pytestmark = pytest.mark.integration


@pytest.mark.redis_cluster
async def test_current_state_first_then_each_event(redis: Redis) -> None:
    async with world(redis) as w:
        qr = render_qr("2@first,a,b,c", attempts=1, ttl_ms=60000)
        await w.store.put_qr("acme", qr, 60000)
        await w.store.record_status("acme", "tenant-acme", "notLogged")
        await w.store.record_state("acme", "tenant-acme", "UNPAIRED")

        # A page that opens late is not blank: status, state and the QR code on screen now.
        reader = await open_stream(w)
        await reader.wait_for(lambda: len(reader.frames) >= 3)
        assert reader.events() == ["status", "state", "qr"]
        (_, first), (_, second), (_, shown) = reader.frames
        assert first is not None
        assert second is not None
        assert shown is not None
        assert (first["status"], second["state"]) == ("notLogged", "UNPAIRED")
        assert (shown["urlCode"], shown["qrRef"]) == (qr.url_code, qr_ref(qr.url_code))
        assert shown["qrCode"] == qr.qr_code

        # Then live: the next QR code, the scan, the connection -- as the worker emits them.
        rotated = render_qr("2@second,a,b,c", attempts=2, ttl_ms=60000)
        await w.sink.qr(
            QrCodeEvent(
                tenant_id="acme",
                session="tenant-acme",
                qr_ref=qr_ref(rotated.url_code),
                **rotated.model_dump(),
            )
        )
        await status(w, "acme", SessionStatus.QR_READ_SUCCESS)
        await w.sink.state(
            SessionStateEvent(
                tenant_id="acme", session="tenant-acme", state=ConnectionState.CONNECTED
            )
        )
        await status(w, "acme", SessionStatus.IN_CHAT, phone="5511988887777")
        await reader.wait_for(lambda: len(reader.frames) >= 7)
        assert reader.events()[3:] == ["qr", "status", "state", "status"]
        assert reader.frames[3][1] is not None
        assert reader.frames[3][1]["urlCode"] == rotated.url_code
        last = reader.frames[6][1]
        assert last is not None
        assert (last["status"], last["phone"]) == ("inChat", "5511988887777")

        # Another tenant's events never reach this stream.
        await status(w, "globex", SessionStatus.NOT_LOGGED)
        await status(w, "acme", SessionStatus.PHONE_NOT_CONNECTED)
        await reader.wait_for(lambda: len(reader.frames) >= 8)
        assert [f[1]["tenantId"] for f in reader.frames if f[1]] == ["acme"] * 8

        # Idle: keep-alive comments (every heartbeat, 0.3 s here).
        await reader.wait_for(lambda: reader.comments >= 2)


async def test_every_session_of_the_tenant_in_the_snapshot(redis: Redis) -> None:
    """Several numbers per tenant: the stream starts with each of the tenant's sessions
    (the default first), each naming itself; a reference-mode QR event of one session is
    completed with that session's code, not the tenant's first session's."""
    async with world(redis, integrations=True) as w:
        stored = w.integrations
        assert stored is not None
        await stored.set("acme", "wppconnect", {"sessionName": "support", "phoneNumberId": "p1"})
        await stored.set(
            "acme", "wppconnect", {"sessionName": "sales", "phoneNumberId": "p2"}, is_default=True
        )
        # support is the first session (sid acme), sales a further one (sid acme@sales).
        support_qr = render_qr("2@support,a,b,c", attempts=1, ttl_ms=60000)
        await w.store.put_qr("acme", support_qr, 60000)
        await w.store.record_status("acme", "tenant-acme", "notLogged", session_name="support")
        await w.store.record_state("acme", "tenant-acme", "UNPAIRED", session_name="support")
        await w.store.record_status(
            "acme@sales", "tenant-acme@sales", "inChat", phone="5511922220002", session_name="sales"
        )

        reader = await open_stream(w)
        await reader.wait_for(lambda: len(reader.frames) >= 4)
        await reader.wait_for(lambda: reader.comments >= 1)  # and nothing more
        named = [(e, d["session"], d["sessionName"]) for e, d in reader.frames if d]
        assert named == [
            ("status", "tenant-acme@sales", "sales"),  # the default session first
            ("status", "tenant-acme", "support"),
            ("state", "tenant-acme", "support"),
            ("qr", "tenant-acme", "support"),
        ]
        sales, shown = (reader.frames[i][1] or {} for i in (0, 3))
        assert (sales["status"], sales["phone"]) == ("inChat", "5511922220002")
        # Not the default session: its QR URL names it.
        assert (shown["urlCode"], shown["qrUrl"]) == (
            support_qr.url_code,
            "/webhooks/wppconnect/qr/acme?session=support",
        )

        # The sales number is logged out and shows a QR code, published as a reference.
        sales_qr = render_qr("2@sales,a,b,c", attempts=1, ttl_ms=60000)
        await publish_by_reference(w, "acme@sales", sales_qr, session_name="sales")
        await reader.wait_for(lambda: len(reader.frames) >= 5)
        event, filled = reader.frames[4]
        assert (event, (filled or {}).get("urlCode")) == ("qr", sales_qr.url_code)


async def test_logged_in_snapshot_leaves_out_a_stale_qr(redis: Redis) -> None:
    async with world(redis) as w:
        await w.store.put_qr("acme", render_qr("2@old,a,b,c", attempts=3, ttl_ms=60000), 60000)
        await w.store.record_status("acme", "tenant-acme", "inChat", phone="5511988887777")
        reader = await open_stream(w)
        await reader.wait_for(lambda: reader.comments >= 1)
        assert reader.events() == ["status"]


async def test_reference_mode_and_pairing_codes(redis: Redis) -> None:
    """A ``whatsapp.qr`` event without material (WHATSAPP_WPPCONNECT_QR_PUBLISH=reference)
    is completed from the sealed copy; one carrying ``pairingCode`` (link by phone number)
    is a ``pairingCode`` event."""
    async with world(redis) as w:
        reader = await open_stream(w)
        await reader.wait_for(lambda: reader.comments >= 1)
        assert reader.frames == []  # nothing stored yet: nothing to show
        qr = render_qr("2@ref,a,b,c", attempts=1, ttl_ms=60000)
        await publish_by_reference(w, "acme", qr)
        pairing = {
            "tenantId": "acme",
            "session": "tenant-acme",
            "sessionName": "support",
            "pairingCode": "ABCD-EFGH",
            "expiresAt": "2030-01-01T00:00:00Z",
            "attempts": 1,
        }
        await w.sink.publish("qr", "acme", orjson.dumps(pairing))
        await reader.wait_for(lambda: len(reader.frames) >= 2)
        (first, shown), (second, code) = reader.frames
        assert (first, second) == ("qr", "pairingCode")
        assert shown is not None
        assert (shown["urlCode"], shown["qrCode"]) == (qr.url_code, qr.qr_code)
        assert code == pairing
