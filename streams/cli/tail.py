"""follow status events (or any of Herald's topics), decoded; Ctrl-C ends

Follow notifications.status (the HERALD_TOPIC_STATUS topic) and print each status event as
one line, or as JSON with --json, de-duplicated by eventId. --topic follows other topics of
Herald instead (requests, dead letters, retries, whatsapp.*); with --topic, --json prints
{topic, partition, offset, key, value} objects. Ctrl-C ends it (exit code 0).

``herald tail``: follow Herald's status events (or any of its topics), decoded.

Like ``kcat -C`` for Herald: no consumer group, every partition, from the end (or
``--from-beginning``). Status events are de-duplicated by ``eventId`` (a worker that
crashes may produce one twice). Ctrl-C ends it with exit code 0.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from schemas.settings import Settings
from schemas.status import Status
from streams.cli._support import add_command, tenant_id
from streams.cli.events import SeenIds, decode_record
from streams.cli.kafka import add_broker_wait, check_topics, follow, wait_for_kafka

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "tail", run, doc=__doc__)
    parser.add_argument("--tenant", type=tenant_id, help="only this tenant's records")
    parser.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in Status],
        metavar="STATUS",
        help="only status events with this status (repeatable): %(choices)s",
    )
    parser.add_argument(
        "--from-beginning", action="store_true", help="start at the oldest records kept"
    )
    parser.add_argument(
        "--topic",
        action="append",
        metavar="TOPIC",
        help="follow this topic of Herald's instead (repeatable): its requests, status, dead "
        "letter, retry and whatsapp.* topics, by their configured names (HERALD_TOPIC_*)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument(
        "--count", type=int, metavar="N", help="exit after printing N records (for scripts)"
    )
    add_broker_wait(parser)
    parser.set_defaults(interrupt_code=0)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    topics = check_topics(settings, args.topic) if args.topic else [settings.topic_status]
    await wait_for_kafka(settings, args.broker_wait)
    seen = SeenIds()
    shown = 0
    statuses = set(args.status or ())
    async with follow(settings, topics, from_beginning=args.from_beginning) as consumer:
        async for record in consumer:
            decoded = decode_record(
                settings, record.topic, record.key, record.value, record.headers
            )
            if args.tenant and decoded.tenant_id != args.tenant:
                continue
            if statuses and decoded.status not in statuses:
                continue
            if decoded.event_id is not None and not seen.first_time(decoded.event_id):
                continue
            if not args.json:
                line = decoded.line if not args.topic else f"{record.topic}  {decoded.line}"
            elif args.topic:
                envelope = {
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "key": record.key.decode(errors="replace") if record.key else None,
                    "value": decoded.value,
                }
                line = orjson.dumps(envelope).decode()
            else:
                line = orjson.dumps(decoded.value).decode()
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            shown += 1
            if args.count is not None and shown >= args.count:
                break
    return 0
