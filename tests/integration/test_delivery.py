"""The Deliverer against a real redis-server, with misbehaving providers and a MemorySink."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ClassVar

import httpx
import pytest
from redis.asyncio import Redis

from providers import PermanentError, RetryableError
from providers.base import Provider, ProviderInfo, RateLimit, SendResult
from schemas import (
    Channel,
    NotificationRequest,
    Settings,
    Status,
    WhatsAppBusinessCredentials,
)
from schemas.retry import RetryReason
from schemas.status import utcnow
from streams.pipeline.delivery import Deliverer, backoff_delay
from streams.pipeline.ratelimit import TokenBucket
from streams.pipeline.resolve import Resolved
from streams.pipeline.state import NotificationState
from streams.platform.sink import MemorySink
from streams.tenancy.integrations import IntegrationStore
from streams.tenancy.lookups import LookupsService
from streams.tenancy.policy import PolicyStore
from tests.helpers import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

CREDS = WhatsAppBusinessCredentials.model_validate(
    {"phoneNumberId": "1", "accessToken": "t", "appSecret": "s", "verifyToken": "v"}
)


class Scripted(Provider[WhatsAppBusinessCredentials]):
    """A provider whose behaviour per call comes from a class-level script."""

    name = "scripted"
    display_name = "Scripted"
    channel = Channel.WHATSAPP
    credentials_model = WhatsAppBusinessCredentials
    info = ProviderInfo(content_types=("text",))
    script: ClassVar[list[Callable[[], Awaitable[SendResult]]]] = []
    calls: ClassVar[int] = 0

    def validate(self, request: NotificationRequest) -> None:
        return None

    def format_payload(self, request: NotificationRequest) -> Any:
        return {}

    async def send(self, request: NotificationRequest) -> SendResult:
        type(self).calls += 1
        step = self.script.pop(0) if self.script else ok
        return await step()


async def ok() -> SendResult:
    return SendResult(provider_message_id=f"pm-{uuid.uuid4()}")


def retryable(retry_after: float | None = None) -> Callable[[], Awaitable[SendResult]]:
    async def step() -> SendResult:
        raise RetryableError("busy", "try later", retry_after=retry_after)

    return step


async def permanent() -> SendResult:
    raise PermanentError("131026", "undeliverable")


async def buggy() -> SendResult:
    return {}["missing"]  # type: ignore[no-any-return]  # a bug: KeyError


async def hang() -> SendResult:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def request() -> NotificationRequest:
    return NotificationRequest.model_validate(
        {
            "id": str(uuid.uuid4()),
            "tenantId": "acme",
            "channel": "whatsapp",
            "recipient": {"phone": "+5511999990001"},
            "content": {"body": "hi"},
        }
    )


class Rig:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.sink = MemorySink()
        self.state = NotificationState(redis, ttl_seconds=600, correlation_ttl_seconds=600)
        self.deliverer = Deliverer(
            settings=settings,
            state=self.state,
            lookups=LookupsService(redis),
            integrations=IntegrationStore(redis, None),
            policies=PolicyStore(redis),
            buckets=TokenBucket(redis),
            http=httpx.AsyncClient(),
            sink=self.sink,
        )

    async def accept(self, req: NotificationRequest) -> None:
        await self.state.claim(req.tenant_id, req.id)
        await self.state.mark_accepted(
            req.tenant_id, req.id, channel="whatsapp", provider="scripted", metadata={}
        )

    def statuses(self, req: NotificationRequest) -> list[Status]:
        return [e.status for e in self.sink.of(req.id)]

    async def deliver(self, *script: Any, attempt: int = 1) -> NotificationRequest:
        """A new request, accepted, then delivered (as ``attempt``) against ``script``."""
        req = request()
        await self.accept(req)
        Scripted.script = list(script)
        await self.deliverer.deliver(req, RESOLVED, attempt)
        return req


@pytest.fixture
def rig(redis: Redis) -> Callable[..., Rig]:
    Scripted.script = []
    Scripted.calls = 0
    Scripted.rate_limit = None

    def make(**overrides: Any) -> Rig:
        return Rig(redis, make_settings(**{"provider_timeout_seconds": 0.2, **overrides}))

    return make


RESOLVED = Resolved(Scripted, CREDS, "tenant")


async def test_retryable_error_schedules_a_retry_with_backoff(rig: Callable[..., Rig]) -> None:
    r = rig(retry_base_delay_seconds=2.0, retry_factor=4.0, retry_tiers="5,30,300")
    req = await r.deliver(retryable())
    [retrying] = r.sink.of(req.id)
    assert retrying.status is Status.RETRYING
    assert retrying.attempt == 1
    assert retrying.error is not None
    assert retrying.error.retryable
    [(topic, envelope)] = r.sink.retries
    assert topic.endswith(".5s")
    assert envelope.attempt == 2
    assert envelope.reason is RetryReason.RETRY
    assert retrying.next_attempt_at == envelope.due_at
    delay = (envelope.due_at - utcnow()).total_seconds()
    assert 0 < delay <= 2.0  # base 2 s with jitter in [0.5, 1]
    record = await r.state.get(req.tenant_id, req.id)
    assert record is not None
    assert record.phase == "scheduled"


async def test_retry_after_is_honored_and_capped(rig: Callable[..., Rig]) -> None:
    r = rig(retry_max_delay_seconds=60.0)
    await r.deliver(retryable(retry_after=42.0))
    [(topic, envelope)] = r.sink.retries
    assert topic.endswith(".300s")
    assert timedelta(seconds=40) < envelope.due_at - utcnow() <= timedelta(seconds=42)
    assert backoff_delay(1, 1.0, 10.0, retry_after=42.0) == 10.0


async def test_resume_is_fenced_against_duplicate_envelopes(rig: Callable[..., Rig]) -> None:
    r = rig()
    req = await r.deliver(retryable())
    [(_, envelope)] = r.sink.retries
    # The envelope comes due twice (e.g. produced again after a crash): one attempt only.
    assert await r.state.begin_attempt(req.tenant_id, req.id, envelope.attempt, "scripted")
    assert not await r.state.begin_attempt(req.tenant_id, req.id, envelope.attempt, "scripted")


async def test_last_attempt_fails_with_the_last_error(rig: Callable[..., Rig]) -> None:
    r = rig(send_max_attempts=2)
    req = await r.deliver(retryable(), attempt=2)
    [failed] = r.sink.of(req.id)
    assert failed.status is Status.FAILED
    assert failed.attempt == 2
    assert failed.error is not None
    assert (failed.error.code, failed.error.retryable) == ("busy", True)
    assert r.sink.retries == []


async def test_permanent_error_fails_at_once(rig: Callable[..., Rig]) -> None:
    r = rig()
    req = await r.deliver(permanent)
    assert r.statuses(req) == [Status.FAILED]
    assert r.sink.of(req.id)[0].error.code == "131026"  # type: ignore[union-attr]


@pytest.mark.parametrize(("step", "code"), [(buggy, "internal_error"), (hang, "provider_timeout")])
async def test_a_misbehaving_provider_becomes_a_retryable_error(
    rig: Callable[..., Rig], step: Callable[[], Awaitable[SendResult]], code: str
) -> None:
    r = rig()
    req = request()
    await r.accept(req)
    Scripted.script = [step]
    async with asyncio.timeout(10):  # the bulkhead timeout ends even a call that never returns
        await r.deliverer.deliver(req, RESOLVED, 1)
    [retrying] = r.sink.of(req.id)
    assert retrying.error is not None
    assert retrying.error.code == code


async def test_bulkhead_defers_instead_of_taking_more_slots(rig: Callable[..., Rig]) -> None:
    r = rig(bulkhead_limit=2, provider_timeout_seconds=5.0)
    reqs = [request() for _ in range(3)]
    for req in reqs:
        await r.accept(req)
    Scripted.script = [hang, hang]
    stuck = [asyncio.create_task(r.deliverer.deliver(req, RESOLVED, 1)) for req in reqs[:2]]
    async with asyncio.timeout(5):
        while Scripted.calls < 2:  # noqa: ASYNC110 (waits for the two calls to start)
            await asyncio.sleep(0)
        await r.deliverer.deliver(reqs[2], RESOLVED, 1)  # returns at once: deferred
    [(_, envelope)] = r.sink.retries
    assert envelope.reason is RetryReason.BULKHEAD
    assert envelope.attempt == 1  # no attempt was made
    for task in stuck:
        task.cancel()
    await asyncio.gather(*stuck, return_exceptions=True)


async def test_rate_limit_delays_never_drops(rig: Callable[..., Rig]) -> None:
    r = rig(max_inline_wait_seconds=0.0)
    Scripted.rate_limit = RateLimit(per_second=1.0, burst=2)
    reqs = [request() for _ in range(4)]
    for req in reqs:
        await r.accept(req)
        await r.deliverer.deliver(req, RESOLVED, 1)
    sent = [req for req in reqs if r.statuses(req) == [Status.SENT]]
    deferred = [env for _, env in r.sink.retries]
    assert len(sent) == 2
    assert len(deferred) == 2
    assert all(env.reason is RetryReason.RATE_LIMITED for env in deferred)
    assert {env.request.id for env in deferred} | {req.id for req in sent} == {q.id for q in reqs}


async def test_crash_during_a_call_fails_as_outcome_unknown(rig: Callable[..., Rig]) -> None:
    r = rig(unknown_outcome="fail")
    req = request()
    await r.accept(req)
    assert await r.state.begin_attempt(req.tenant_id, req.id, 1, "scripted")  # then: crash
    record = await r.state.get(req.tenant_id, req.id)
    assert record is not None
    assert record.phase == "sending"
    await r.deliverer.unknown_outcome(req, record)
    [event] = r.sink.of(req.id)
    assert event.status is Status.FAILED
    assert event.error is not None
    assert event.error.code == "outcome_unknown"


def test_tiers_pick_the_smallest_long_enough() -> None:
    s = make_settings(retry_tiers="5,30,300")
    d = Deliverer.__new__(Deliverer)
    d.settings = s
    names = [d.tier_topic(x).rsplit(".", 1)[-1] for x in (0.1, 5, 6, 31, 301, 10_000)]
    assert names == ["5s", "5s", "30s", "300s", "300s", "300s"]
    jitters = {
        round(backoff_delay(3, 1.0, 100.0, factor=2.0), 6) for _ in itertools.repeat(None, 50)
    }
    assert all(2.0 <= j <= 4.0 for j in jitters)
    assert len(jitters) > 1


async def test_per_provider_retry_policy_overrides_the_defaults(rig: Callable[..., Rig]) -> None:
    r = rig(send_max_attempts=5, retry_policies={"scripted": {"maxAttempts": 1}})
    req = await r.deliver(retryable())
    assert r.statuses(req) == [Status.FAILED]  # one attempt allowed for this provider
    r2 = rig(retry_policies={"scripted": {"baseDelay": 100.0, "factor": 1.0, "maxDelay": 200.0}})
    req2 = request()
    await r2.accept(req2)
    Scripted.script = [retryable()]
    await r2.deliverer.deliver(req2, RESOLVED, 1)
    [(topic, envelope)] = r2.sink.retries
    delay = (envelope.due_at - utcnow()).total_seconds()
    assert 45 < delay <= 100  # base 100 s with jitter, not the global default
    assert topic.endswith(".300s")
