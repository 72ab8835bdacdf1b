"""show what Herald knows of one notification (from Redis, not Kafka)

Print the state Herald keeps for one notification: phase, furthest status, channel,
provider, provider message id, attempts, the next attempt and the error it failed or was
rejected with (or the last one when a retry is scheduled), when its phase was last set, and
when the state expires. Exit code 1 when there is none (never received, or expired after
HERALD_IDEMPOTENCY_TTL_SECONDS).

``herald status --tenant T --id ID``: what Herald's state says of one notification.

Read from Redis only (never Kafka): the record the router keeps per notification for
idempotency and monotonic statuses. :func:`read_notification` is the one place that
knows how that state is read.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from schemas.retry import RetryEnvelope
from schemas.settings import Settings
from schemas.status import Status
from streams.cli._support import add_command, format_table, print_json, redis_client, tenant_id
from streams.cli.errors import CommandError, redact_url
from streams.pipeline.state import RANKS, NotificationRecord, NotificationState
from streams.tenancy import keys

__all__ = ["NotificationView", "read_notification", "register"]

_STATUS_OF_RANK = {rank: status for status, rank in RANKS.items()}


@dataclass(frozen=True, slots=True)
class NotificationView:
    """One notification as Herald's state records it."""

    record: NotificationRecord
    expires_at: datetime | None
    retry: RetryEnvelope | None

    @property
    def status(self) -> str:
        """The furthest status reached (``rejected`` for a refused request)."""
        if self.record.phase == "rejected":
            return Status.REJECTED.value
        if self.record.phase == "failed":
            return Status.FAILED.value
        if self.record.phase == "claimed":
            return "received"
        status = _STATUS_OF_RANK.get(self.record.rank)
        return status.value if status is not None else "received"

    def as_dict(self) -> dict[str, Any]:
        r, retry = self.record, self.retry
        error = retry.last_error if retry is not None else None
        # A final failed/rejected keeps its error in the state; else a scheduled retry's.
        last_error = r.error
        if last_error is None and error is not None:
            last_error = error.model_dump(mode="json", by_alias=True)
        return {
            "tenantId": r.tenant_id,
            "notificationId": r.notification_id,
            "phase": r.phase,
            "status": self.status,
            "channel": r.channel,
            "provider": r.provider,
            "providerMessageId": r.provider_message_id,
            "attempts": r.attempt,
            "nextAttempt": None
            if retry is None
            else {
                "attempt": retry.attempt,
                "provider": retry.provider,
                "dueAt": retry.due_at.isoformat(),
                "reason": retry.reason.value,
            },
            "lastError": last_error,
            "updatedAt": r.updated_at,
            "createdAt": None
            if retry is None or retry.request.created_at is None
            else retry.request.created_at.isoformat(),
            "expiresAt": None if self.expires_at is None else self.expires_at.isoformat(),
            "metadata": r.metadata,
        }


async def read_notification(
    redis: Redis, settings: Settings, tenant_id: str, notification_id: str
) -> NotificationView | None:
    """The state of one notification, or ``None`` when Redis has none (never seen, expired)."""
    state = NotificationState(
        redis,
        ttl_seconds=settings.idempotency_ttl_seconds,
        correlation_ttl_seconds=settings.correlation_ttl_seconds,
    )
    record = await state.get(tenant_id, notification_id)
    if record is None:
        return None
    ttl = await redis.ttl(keys.notification(tenant_id, notification_id))
    expires = datetime.now(UTC) + timedelta(seconds=ttl) if ttl > 0 else None
    retry = None
    if record.retry and record.retry.get("envelope"):
        try:
            retry = RetryEnvelope.model_validate_json(record.retry["envelope"])
        except ValueError:
            retry = None  # an older or newer envelope: the rest is still worth showing
    return NotificationView(record=record, expires_at=expires, retry=retry)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = add_command(subparsers, "status", run, doc=__doc__)
    parser.add_argument("--tenant", required=True, type=tenant_id, help="tenant id")
    parser.add_argument("--id", required=True, dest="notification_id", help="notification id")
    parser.add_argument("--json", action="store_true", help="print as JSON")


def _rows(data: dict[str, Any]) -> list[list[str]]:
    rows = [
        ["notification", f"{data['notificationId']} (tenant {data['tenantId']})"],
        ["phase", data["phase"]],
        ["status", data["status"]],
        ["channel", data["channel"] or "-"],
        ["provider", data["provider"] or "-"],
        ["message id", data["providerMessageId"] or "-"],
        ["attempts", str(data["attempts"])],
    ]
    if data["nextAttempt"]:
        nxt = data["nextAttempt"]
        rows.append(
            [
                "next attempt",
                f"{nxt['attempt']} via {nxt['provider']} at {nxt['dueAt']} ({nxt['reason']})",
            ]
        )
    if data["lastError"]:
        err = data["lastError"]
        rows.append(["last error", f"{err['code']}: {err['message']}"])
    if data["createdAt"]:
        rows.append(["created at", data["createdAt"]])
    if data["updatedAt"]:
        rows.append(["phase set at", data["updatedAt"]])
    rows.append(["state expires", data["expiresAt"] or "-"])
    if data["metadata"]:
        rows.append(["metadata", str(data["metadata"])])
    return rows


async def run(args: argparse.Namespace, settings: Settings) -> int:
    async with redis_client(settings) as redis:
        view = await read_notification(redis, settings, args.tenant, args.notification_id)
    if view is None:
        raise CommandError(
            f"Redis at {redact_url(settings.redis_url)} holds no state for notification "
            f"{args.notification_id!r} of tenant {args.tenant!r}",
            "check the tenant and id; state is kept HERALD_IDEMPOTENCY_TTL_SECONDS "
            f"({settings.idempotency_ttl_seconds}s) after the request",
        )
    data = view.as_dict()
    if args.json:
        print_json(data)
    else:
        print("\n".join(line for line in format_table(["", ""], _rows(data)).splitlines()[1:]))
    return 0
