"""``herald send``: produce one notification request from flags and print its id.

With ``--wait`` it then follows the request's status events until a final one: a
consumer is positioned at the end of the status topic *before* the request is
produced, so no event can be missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from schemas import Channel, NotificationRequest, Settings, StatusEvent
from schemas.status import Status
from seeds.data import LOOKUPS
from streams.cli._support import tenant_id
from streams.cli.errors import ExitCode, InputError, TimedOut
from streams.cli.events import SeenIds, status_line
from streams.cli.kafka import add_broker_wait, follow, wait_for_kafka
from streams.platform.admin import ensure_topics

__all__ = ["build_request", "register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "send",
        help="produce one notification request; prints its id (--wait: follow it)",
        description="Produce one NotificationRequest to the requests topic, keyed by tenant, "
        "and print its id. With --wait, print each of its status events as it arrives and "
        "exit 0 once it is sent (or later), 1 when it fails or is rejected, 4 on time-out.",
    )
    p.add_argument("--tenant", required=True, type=tenant_id, help="tenant id")
    p.add_argument(
        "--channel",
        default="whatsapp",
        choices=[c.value for c in Channel],
        help="one of: %(choices)s (default %(default)s)",
    )
    p.add_argument(
        "--provider",
        choices=[lookup.lookup_code for lookup in LOOKUPS],
        metavar="PROVIDER",
        help="provider lookup code, one of: %(choices)s (default: the tenant's default)",
    )
    p.add_argument(
        "--sender",
        help="which of the tenant's senders: a WhatsApp Web session's sessionName "
        "(default: the tenant's default session)",
    )
    p.add_argument("--id", dest="notification_id", help="idempotency key (default: a new UUID)")
    to = p.add_argument_group("recipient (one of)")
    to.add_argument("--to", dest="phone", help="phone number")
    to.add_argument("--email", help="email address (channel email)")
    to.add_argument("--device-token", help="push token (channel fcm: Firebase or APNs)")
    to.add_argument("--user-id", help="inbox user id (channel database)")
    c = p.add_argument_group("content")
    c.add_argument("--body", help="text of the message")
    c.add_argument("--subject", help="email subject, push title")
    c.add_argument("--html", help="email HTML body")
    c.add_argument("--media-url", help="attach media by URL")
    c.add_argument("--media-file", type=Path, help="attach a local file (sent inline, base64)")
    c.add_argument("--mimetype", help="the media's MIME type")
    c.add_argument("--caption", help="the media's caption")
    c.add_argument("--latitude", type=float, help="share a location: its latitude")
    c.add_argument("--longitude", type=float, help="share a location: its longitude")
    c.add_argument("--location-name", help="share a location: its name")
    c.add_argument("--contact-id", help="share a contact: its phone number")
    c.add_argument("--contact-name", help="share a contact: its name")
    p.add_argument("--metadata", help="JSON object echoed on every status event")
    w = p.add_argument_group("following the request")
    w.add_argument("--wait", action="store_true", help="print its status events until final")
    w.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --wait: give up after SECONDS (default 60; exit code 4)",
    )
    w.add_argument("--json", action="store_true", help="with --wait: events as JSON lines")
    add_broker_wait(p)
    p.set_defaults(func=run)


def _metadata(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"--metadata is not valid JSON: {exc}", "give a JSON object") from None
    if not isinstance(value, dict):
        raise InputError("--metadata must be a JSON object", 'for example {"order": "A-17"}')
    return value


def _read_media(path: Path) -> str:
    try:
        return base64.b64encode(path.read_bytes()).decode()
    except OSError as exc:
        raise InputError(f"cannot read --media-file {path}: {exc.strerror}") from exc


def build_request(args: argparse.Namespace) -> NotificationRequest:
    content: dict[str, Any] = {"body": args.body, "subject": args.subject, "html": args.html}
    if args.media_url or args.media_file:
        media: dict[str, Any] = {"mimetype": args.mimetype, "caption": args.caption}
        if args.media_file:
            media["base64"] = _read_media(args.media_file)
            media["filename"] = args.media_file.name
        else:
            media["url"] = args.media_url
        content["media"] = media
    if args.latitude is not None or args.longitude is not None:
        content["location"] = {
            "latitude": args.latitude,
            "longitude": args.longitude,
            "name": args.location_name,
        }
    if args.contact_id:
        content["contact"] = {"contactId": args.contact_id, "name": args.contact_name}
    return NotificationRequest.model_validate(
        {
            "id": args.notification_id or str(uuid.uuid4()),
            "tenantId": args.tenant,
            "channel": args.channel,
            "provider": args.provider,
            "sender": args.sender,
            "recipient": {
                "phone": args.phone,
                "email": args.email,
                "deviceToken": args.device_token,
                "userId": args.user_id,
            },
            "content": content,
            "metadata": _metadata(args.metadata),
        }
    )


async def _produce(settings: Settings, request: NotificationRequest) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic_requests, key=request.tenant_id.encode(), value=request.to_json()
        )
    finally:
        await producer.stop()


#: What ``--wait`` stops on, and the exit code it stops with.
FINAL: dict[Status, ExitCode] = {
    Status.SENT: ExitCode.OK,
    Status.DELIVERED: ExitCode.OK,
    Status.READ: ExitCode.OK,
    Status.FAILED: ExitCode.FAILED,
    Status.REJECTED: ExitCode.FAILED,
}


async def run(args: argparse.Namespace, settings: Settings) -> int:
    request = build_request(args)
    await wait_for_kafka(settings, args.broker_wait)
    topics = [settings.topic_requests, settings.topic_status] if args.wait else []
    await ensure_topics(settings, topics or [settings.topic_requests], timeout=args.broker_wait)
    if not args.wait:
        await _produce(settings, request)
        print(request.id)
        return 0
    async with follow(settings, [settings.topic_status]) as consumer:
        await _produce(settings, request)
        if not args.json:
            print(request.id, flush=True)
        try:
            async with asyncio.timeout(args.timeout):
                return await _until_final(consumer, request, args.json)
        except TimeoutError:
            raise TimedOut(
                f"no final status for {request.id} within {args.timeout:g}s",
                "is a router worker running (`herald worker`)? "
                f"`herald status --tenant {request.tenant_id} --id {request.id}` shows its state",
            ) from None


async def _until_final(consumer: Any, request: NotificationRequest, as_json: bool) -> int:
    seen = SeenIds()
    async for record in consumer:
        if record.key is not None and record.key != request.tenant_id.encode():
            continue
        try:
            event = StatusEvent.model_validate_json(record.value)
        except ValueError:
            continue  # not a status event; `herald tail` shows such records
        if event.notification_id != request.id or not seen.first_time(event.event_id):
            continue
        if as_json:
            sys.stdout.write(event.to_json().decode() + "\n")
        else:
            sys.stdout.write(status_line(event) + "\n")
        sys.stdout.flush()
        if event.status in FINAL:
            return FINAL[event.status]
    return ExitCode.FAILED  # the consumer stopped: not reached while it runs
