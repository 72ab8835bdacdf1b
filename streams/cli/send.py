"""``herald send``: produce one notification request from flags and print its id."""

from __future__ import annotations

import argparse
import base64
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from schemas import Channel, NotificationRequest, Settings
from streams.platform.admin import ensure_topics

__all__ = ["build_request", "register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "send",
        help="produce one notification request; prints its id",
        description="Produce one NotificationRequest to the requests topic, keyed by tenant.",
    )
    p.add_argument("--tenant", required=True, help="tenant id")
    p.add_argument("--channel", default="whatsapp", choices=[c.value for c in Channel])
    p.add_argument("--provider", help="provider lookup code (default: the tenant's default)")
    p.add_argument("--id", dest="notification_id", help="idempotency key (default: a new UUID)")
    to = p.add_argument_group("recipient (one of)")
    to.add_argument("--to", dest="phone", help="phone number")
    to.add_argument("--email")
    to.add_argument("--device-token")
    to.add_argument("--user-id")
    c = p.add_argument_group("content")
    c.add_argument("--body")
    c.add_argument("--subject")
    c.add_argument("--html")
    c.add_argument("--media-url", help="attach media by URL")
    c.add_argument("--media-file", type=Path, help="attach a local file (sent inline, base64)")
    c.add_argument("--mimetype")
    c.add_argument("--caption")
    c.add_argument("--latitude", type=float)
    c.add_argument("--longitude", type=float)
    c.add_argument("--location-name")
    c.add_argument("--contact-id", help="share a contact: its phone number")
    c.add_argument("--contact-name")
    p.add_argument("--metadata", help="JSON object echoed on every status event")
    p.set_defaults(func=run)


def build_request(args: argparse.Namespace) -> NotificationRequest:
    content: dict[str, Any] = {"body": args.body, "subject": args.subject, "html": args.html}
    if args.media_url or args.media_file:
        media: dict[str, Any] = {"mimetype": args.mimetype, "caption": args.caption}
        if args.media_file:
            media["base64"] = base64.b64encode(args.media_file.read_bytes()).decode()
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
            "recipient": {
                "phone": args.phone,
                "email": args.email,
                "deviceToken": args.device_token,
                "userId": args.user_id,
            },
            "content": content,
            "metadata": orjson.loads(args.metadata) if args.metadata else {},
        }
    )


async def run(args: argparse.Namespace, settings: Settings) -> int:
    request = build_request(args)
    await ensure_topics(settings, [settings.topic_requests])
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic_requests, key=request.tenant_id.encode(), value=request.to_json()
        )
    finally:
        await producer.stop()
    print(request.id)
    return 0
