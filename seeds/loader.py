"""Write the seed data to Redis, idempotently (the seed's ``seed*`` functions).

Each collection is one Redis hash (``streams.tenancy.keys``): lookup types by ``typeName``,
lookups by ``lookupCode``, provider rows by ``name``; each value is the model's JSON.
A field is written only when it is missing or its value differs, so running the loader
twice changes nothing. Fields that are not in the seed are left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from schemas._base import WireModel
from seeds import data
from streams.tenancy import keys

__all__ = ["SeedCounts", "SeedReport", "load_seeds"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SeedCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What :func:`load_seeds` did, per collection: lookup_types, lookups, providers."""

    collections: dict[str, SeedCounts] = field(default_factory=dict)

    @property
    def created(self) -> int:
        return sum(c.created for c in self.collections.values())

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.collections.values())

    @property
    def unchanged(self) -> int:
        return sum(c.unchanged for c in self.collections.values())

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            name: {"created": c.created, "updated": c.updated, "unchanged": c.unchanged}
            for name, c in self.collections.items()
        }


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _same(stored: bytes | str | None, wanted: bytes) -> bool:
    if stored is None:
        return False
    try:
        parsed: Any = orjson.loads(stored)
    except orjson.JSONDecodeError:
        return False
    return bool(parsed == orjson.loads(wanted))


async def _load_hash(
    redis: Redis, key: str, rows: Iterable[tuple[str, WireModel]]
) -> tuple[SeedCounts, dict[FieldT, EncodableT]]:
    raw: dict[Any, Any] = await redis.hgetall(key)
    existing = {_decode(k): v for k, v in raw.items()}
    created = updated = unchanged = 0
    writes: dict[FieldT, EncodableT] = {}
    for name, model in rows:
        wanted = model.to_json()
        stored = existing.get(name)
        if _same(stored, wanted):
            unchanged += 1
            continue
        if stored is None:
            created += 1
        else:
            updated += 1
        writes[name] = wanted
    return SeedCounts(created=created, updated=updated, unchanged=unchanged), writes


async def load_seeds(redis: Redis) -> SeedReport:
    """Write the lookup types, lookups and provider rows; return what changed."""
    plan: list[tuple[str, str, list[tuple[str, WireModel]]]] = [
        ("lookup_types", keys.lookup_types(), [(t.type_name, t) for t in data.LOOKUP_TYPES]),
        ("lookups", keys.lookups(), [(lk.lookup_code, lk) for lk in data.LOOKUPS]),
        ("providers", keys.provider_rows(), [(p.name, p) for p in data.PROVIDERS]),
    ]
    collections: dict[str, SeedCounts] = {}
    # Three keys in three cluster slots: one pipeline, not a transaction (every write is
    # idempotent; a reader that meets a half-loaded seed sees the last load's rows).
    async with redis.pipeline(transaction=False) as pipe:
        for name, key, rows in plan:
            counts, writes = await _load_hash(redis, key, rows)
            collections[name] = counts
            if writes:
                pipe.hset(key, mapping=writes)
        if len(pipe):
            await pipe.execute()
    report = SeedReport(collections=collections)
    if report.created or report.updated:
        await redis.publish(keys.LOOKUPS_CHANNEL, "seed")  # workers read the seed again
    log.info(
        "seed data loaded",
        extra={
            "seed_created": report.created,
            "seed_updated": report.updated,
            "seed_unchanged": report.unchanged,
        },
    )
    return report
