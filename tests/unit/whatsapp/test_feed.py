"""The live session feed's pieces that need no Redis: queues, frames, sealing."""

from __future__ import annotations

import os

import orjson

from schemas.whatsapp import SessionStateEvent, SessionStatus
from streams.tenancy.crypto import Cipher
from streams.whatsapp.feed import QUEUE_SIZE, RESYNC, FeedEvent, SessionFeed, Subscription
from streams.whatsapp.live import sse_frame


async def test_a_stream_that_falls_behind_starts_again_from_the_stored_state() -> None:
    subscription = Subscription("acme")
    for n in range(QUEUE_SIZE):
        subscription.offer(FeedEvent("state", {"n": n}))
    assert subscription.queue.qsize() == QUEUE_SIZE
    subscription.offer(FeedEvent("state", {"n": QUEUE_SIZE}))  # one too many
    assert await subscription.next(0.1) == RESYNC
    assert await subscription.next(0.01) is None  # the backlog was dropped


def test_a_frame_is_one_event_whatever_the_data_holds() -> None:
    frame = sse_frame("status", {"detail": "line one\nline two\r\n\nevent: qr\ndata: x"})
    assert frame.startswith(b"event: status\ndata: ")
    assert frame.endswith(b"\n\n")
    assert frame.count(b"\n") == 3  # event, data, the blank line: nothing injected
    assert orjson.loads(frame.split(b"data: ", 1)[1])["detail"].startswith("line one\n")


async def test_messages_are_sealed_for_their_tenant() -> None:
    """A message published on one tenant's channel cannot be replayed on another's."""
    cipher = Cipher(os.urandom(32))
    feed = SessionFeed(redis=None, cipher=cipher)  # type: ignore[arg-type]
    event = SessionStateEvent(tenant_id="acme", session="tenant-acme", status=SessionStatus.IN_CHAT)
    envelope = orjson.dumps({"kind": "state", "event": orjson.loads(event.to_json())})
    sealed = cipher.encrypt(envelope, b"wppconnect-events:acme")
    opened = feed._open("acme", sealed.encode())
    assert opened is not None
    assert (opened.kind, opened.data["status"]) == ("state", "inChat")
    assert feed._open("globex", sealed.encode()) is None
    assert SessionFeed(redis=None, cipher=Cipher(os.urandom(32)))._open("acme", sealed) is None  # type: ignore[arg-type]
