"""The router's Redis work for a whole batch: one round trip per step, not per request.

Two steps of the hot path touch Redis, each once per batch (or per completion wave):

* :meth:`BatchState.claim` -- for every (tenant, id) of the batch: return the existing
  record (a duplicate or a replay), or create it. A new request whose provider is known
  and whose token bucket has a token goes straight to ``sending`` (attempt 1): the claim,
  the token and the attempt fence are one script, so the provider call can start when
  the round trip returns. The others are created ``accepted`` and go the per-request way.
* :meth:`BatchState.record_sent` -- for every completed call: a compare-and-set on the
  attempt (``sending`` with this attempt number, or already ``sent`` with this message
  id) that records the provider message id and moves to ``sent``; then the correlation
  ``provider message id -> notification`` and the delivery reports parked for it.

Every script touches the keys of one tenant only (hash tag ``{tenant}``): the calls are
grouped by :func:`group_of`, one group for a single Redis, one per tenant for a cluster.
The correlation and parked keys belong to the provider message id, not to a tenant, so
they are plain single-key commands in the same pipeline. Writing the correlation first
and popping the parked list after it is safe without a script: a report parks itself
only while the correlation is missing (:data:`streams.pipeline.state._RESOLVE_OR_PARK`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from streams.pipeline.ratelimit import TokenLeases
from streams.pipeline.state import ADVANCE_RULE, NotificationRecord, ParkedStatus, parked_for
from streams.platform.redis import queue_script, run_pipeline
from streams.tenancy import keys

__all__ = [
    "BEGAN",
    "CREATED",
    "BatchState",
    "ClaimItem",
    "SentItem",
    "bucket_key",
    "group_of",
]

#: :meth:`BatchState.claim` outcomes for a new request (an existing one returns its record).
BEGAN = "began"  # phase sending, attempt 1: make the provider call now
CREATED = "created"  # phase accepted: the per-request path takes it from here

# KEYS: nb bucket keys, then the notification hashes (one tenant, or one Redis).
# ARGV: nb, now (s), ttl, then (rate, burst, ahead) per bucket, then per notification:
#   bucket (-1: create `accepted` only, 0: no rate limit, k: bucket k), provider, channel,
#   metadata json, src.
# Returns per notification: the existing record (flat list), or 1 (began), or 0 (created);
# then per bucket the tokens leased beyond the need (at most its `ahead`).
_CLAIM_BATCH = """
local nb = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local ttl = ARGV[3]
local tokens, rates, bursts, used = {}, {}, {}, {}
for b = 1, nb do
  rates[b] = tonumber(ARGV[1 + 3 * b])
  bursts[b] = tonumber(ARGV[2 + 3 * b])
  local raw = redis.call('GET', KEYS[b])
  local t, ts = bursts[b], now
  if raw then
    local sep = string.find(raw, ' ')
    t = tonumber(string.sub(raw, 1, sep - 1))
    ts = tonumber(string.sub(raw, sep + 1))
  end
  if now > ts then t = math.min(bursts[b], t + (now - ts) * rates[b]) end
  tokens[b] = t
end
local out = {}
local base = 4 + 3 * nb
for i = nb + 1, #KEYS do
  local a = base + (i - nb - 1) * 5
  local key = KEYS[i]
  if redis.call('EXISTS', key) == 1 then
    out[#out + 1] = redis.call('HGETALL', key)
  else
    local b = tonumber(ARGV[a])
    local begin = b == 0
    if b > 0 and tokens[b] >= 1 then
      tokens[b] = tokens[b] - 1
      used[b] = true
      begin = true
    end
    if begin then
      redis.call('HSET', key, 'phase', 'sending', 'rank', '0', 'attempt', '1',
        'provider', ARGV[a + 1], 'channel', ARGV[a + 2], 'metadata', ARGV[a + 3],
        'src', ARGV[a + 4])
      out[#out + 1] = 1
    else
      redis.call('HSET', key, 'phase', 'accepted', 'rank', '0',
        'provider', ARGV[a + 1], 'channel', ARGV[a + 2], 'metadata', ARGV[a + 3],
        'src', ARGV[a + 4])
      out[#out + 1] = 0
    end
    redis.call('EXPIRE', key, ttl)
  end
end
local leased = #out
for b = 1, nb do
  local ahead = math.min(tonumber(ARGV[3 + 3 * b]), math.floor(tokens[b]))
  if ahead > 0 then
    tokens[b] = tokens[b] - ahead
    used[b] = true
  end
  out[leased + b] = math.max(ahead, 0)
  if used[b] then
    local ms = math.ceil(bursts[b] / rates[b] * 1000) + 1000
    redis.call('SET', KEYS[b], string.format('%.6f %.6f', tokens[b], now), 'PX', ms)
  end
end
return out
"""

# KEYS: notification hashes. ARGV: per key attempt, provider message id. (rank 1 = sent,
# state.RANKS.)
# Returns per key 1 (recorded now or before, by this attempt) or 0 (not this attempt's).
_RECORD_SENT_BATCH = (
    ADVANCE_RULE
    + """
local out = {}
for i, key in ipairs(KEYS) do
  local attempt, pmid = ARGV[2 * i - 1], ARGV[2 * i]
  local st = redis.call('HMGET', key, 'phase', 'attempt', 'pmid', 'rank')
  if st[1] == 'sending' and st[2] == attempt then
    local cur = tonumber(st[4] or '-1')
    if allowed(cur, 1) then
      redis.call('HSET', key, 'phase', 'sent', 'pmid', pmid, 'rank', '1')
    else
      redis.call('HSET', key, 'phase', 'sent', 'pmid', pmid)
    end
    out[i] = 1
  elseif st[1] == 'sent' and st[3] == pmid then
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
)


def bucket_key(tenant_id: str, provider: str) -> str:
    """A token bucket per tenant and provider, in the tenant's hash slot."""
    return f"herald:tb:{{{tenant_id}}}:{provider}"


def group_of(tenant_id: str, *, cluster: bool) -> str:
    """Scripts get the keys of one group: a tenant on a Redis Cluster, everything otherwise."""
    return tenant_id if cluster else ""


@dataclass(frozen=True, slots=True)
class ClaimItem:
    tenant_id: str
    notification_id: str
    provider: str
    channel: str
    metadata: dict[str, Any]
    src: str
    #: ``None``: create it ``accepted`` only; ``(rate, burst)``: take a token to begin;
    #: ``()``: begin without a rate limit.
    bucket: tuple[float, int] | tuple[()] | None


@dataclass(frozen=True, slots=True)
class SentItem:
    tenant_id: str
    notification_id: str
    provider: str
    attempt: int
    provider_message_id: str


class BatchState:
    def __init__(
        self,
        redis: Redis,
        *,
        ttl_seconds: int,
        correlation_ttl_seconds: int,
        max_parked: int = 16,
        cluster: bool = False,
        leases: TokenLeases | None = None,
    ) -> None:
        self._redis = redis
        #: Tokens taken ahead by earlier claims (none: every claim reads its buckets).
        self.leases = leases or TokenLeases(0)
        self._ttl = ttl_seconds
        self._corr_ttl = correlation_ttl_seconds
        self._max_parked = max_parked
        self._cluster = cluster
        self._claim = redis.register_script(_CLAIM_BATCH)
        self._record = redis.register_script(_RECORD_SENT_BATCH)

    def _groups(self, tenants: Sequence[str]) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, tenant in enumerate(tenants):
            groups[group_of(tenant, cluster=self._cluster)].append(i)
        return groups

    async def claim(self, items: Sequence[ClaimItem]) -> list[NotificationRecord | str]:
        """Per item: its existing record, or :data:`BEGAN` / :data:`CREATED` (one round trip)."""
        if not items:
            return []
        now = f"{time.time():.6f}"
        groups = self._groups([item.tenant_id for item in items])
        calls = [self._claim_call(items, indexes, now) for indexes in groups.values()]

        def build(pipe: Any) -> None:
            for call_keys, call_args, _ in calls:
                queue_script(pipe, self._claim, call_keys, call_args)

        replies = await run_pipeline(self._redis, build, (self._claim,))
        results: list[NotificationRecord | str] = [CREATED] * len(items)
        for indexes, reply, (_, _, bkeys) in zip(groups.values(), replies, calls, strict=True):
            for bkey, leased in zip(bkeys, reply[len(indexes) :], strict=True):
                self.leases.grant(bkey, int(leased))
            for i, value in zip(indexes, reply[: len(indexes)], strict=True):
                if isinstance(value, list):
                    item = items[i]
                    results[i] = NotificationRecord.from_flat(
                        item.tenant_id, item.notification_id, value
                    )
                else:
                    results[i] = BEGAN if int(value) == 1 else CREATED
        return results

    def _claim_call(
        self, items: Sequence[ClaimItem], indexes: list[int], now: str
    ) -> tuple[list[str], list[Any], list[str]]:
        """One group's claim script call: its keys, its arguments and its buckets (in the
        script's order). A token leased before pays for an item here, without the bucket."""
        buckets: dict[str, int] = {}
        bucket_args: list[Any] = []
        item_keys: list[str] = []
        item_args: list[Any] = []
        leases = self.leases
        for i in indexes:
            item = items[i]
            if item.bucket is None:
                index = -1
            elif len(item.bucket) == 0:
                index = 0
            elif leases.spend(bkey := bucket_key(item.tenant_id, item.provider)):
                index = 0  # paid with a token leased before
            else:
                if bkey not in buckets:
                    buckets[bkey] = len(buckets) + 1
                    rate, burst = item.bucket
                    bucket_args.extend((rate, burst, leases.ahead(rate, burst)))
                index = buckets[bkey]
            item_keys.append(keys.notification(item.tenant_id, item.notification_id))
            item_args.extend(
                (index, item.provider, item.channel, orjson.dumps(item.metadata), item.src)
            )
        call_keys = [*buckets, *item_keys]
        return call_keys, [len(buckets), now, self._ttl, *bucket_args, *item_args], list(buckets)

    async def record_sent(self, items: Sequence[SentItem]) -> list[tuple[bool, list[ParkedStatus]]]:
        """Per item: whether its attempt was still current, and the reports parked for it."""
        if not items:
            return []
        groups = self._groups([item.tenant_id for item in items])
        parked = [keys.parked(item.provider, item.provider_message_id) for item in items]

        def build(pipe: Any) -> None:  # safe twice: compare-and-set, SET, EXISTS (or LPOP)
            for indexes in groups.values():
                args: list[Any] = []
                for i in indexes:
                    args.extend((items[i].attempt, items[i].provider_message_id))
                hashes = [
                    keys.notification(items[i].tenant_id, items[i].notification_id) for i in indexes
                ]
                queue_script(pipe, self._record, hashes, args)
            for item in items:
                corr = orjson.dumps({"t": item.tenant_id, "n": item.notification_id})
                pmid = item.provider_message_id
                pipe.set(keys.correlation(item.provider, pmid), corr, ex=self._corr_ttl)
            if self._cluster:  # one slot per message id: a pop each (EVAL: never refused)
                for key in parked:
                    pipe.lpop(key, self._max_parked)
            else:  # one EXISTS for the wave; a report is parked rarely
                pipe.exists(*parked)

        replies = await run_pipeline(self._redis, build, (self._record,))
        current = [False] * len(items)
        for indexes, reply in zip(groups.values(), replies, strict=False):
            for i, value in zip(indexes, reply, strict=True):
                current[i] = int(value) == 1
        tail = replies[len(groups) + len(items) :]
        if not self._cluster:
            tail = await self._pop_parked(parked) if tail[0] else [None] * len(items)
        return [
            (current[n], parked_for(item.tenant_id, item.provider, tail[n] or []))
            for n, item in enumerate(items)
        ]

    async def _pop_parked(self, parked: list[str]) -> list[Any]:
        # After the correlations are written nothing new is parked: popping now is complete.
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in parked:
                pipe.lpop(key, self._max_parked)
            return list(await pipe.execute())
