"""Operations (issue #18, section 5): metrics off the public port, a health check that
reveals nothing, Redis checked as primary storage, TTLs on re-created keys, and WhatsApp
sessions that fail closed when their lease cannot be renewed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from schemas import Settings
from schemas.status import Status
from streams.cli.main import main
from streams.pipeline.state import NotificationState
from streams.platform.redis_storage import UnsafeRedis, check_redis_storage
from streams.tenancy import keys
from streams.whatsapp import SessionManager
from streams.whatsapp.lease import LeaseManager, lease_key
from streams.whatsapp.options import SessionOptions
from streams.whatsapp.tokens import FileTokenStore
from streams.whatsapp.upkeep import Upkeep
from tests.helpers import make_settings
from tests.integration.conftest import WorkerFactory
from tests.unit.whatsapp.fakes import FakeWhatsApp, Recorder

pytestmark = pytest.mark.integration


# --- /metrics and /health ----------------------------------------------------------------


async def test_metrics_are_not_on_the_public_port_and_need_the_token(
    settings_factory: Callable[..., Settings], worker_factory: WorkerFactory
) -> None:
    settings = settings_factory(metrics_token="scrape-secret-token")
    worker = await worker_factory(settings)
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        public = await client.get(f"{worker.url}/metrics")
        assert public.status_code == 404
        health = await client.get(f"{worker.url}/health")
        assert health.json() == {"status": "ok"}  # no load, no topology
        for page in ("/router/", "/table/", "/router/topics"):  # Faust's built-in pages
            assert (await client.get(f"{worker.url}{page}")).status_code == 404, page

        anonymous = await client.get(f"{worker.metrics_url}/metrics")
        assert anonymous.status_code == 401
        wrong = await client.get(
            f"{worker.metrics_url}/metrics", headers={"Authorization": "Bearer scrape-secret"}
        )
        assert wrong.status_code == 401
        scraped = await client.get(
            f"{worker.metrics_url}/metrics",
            headers={"Authorization": "Bearer scrape-secret-token"},
        )
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        assert "# TYPE" in scraped.text
    # The admin listener binds loopback by default, not the web host's wildcard.
    assert make_settings().metrics_host == "127.0.0.1"


# --- Redis as primary storage --------------------------------------------------------------


@contextlib.asynccontextmanager
async def redis_config(redis: Redis, name: str, value: str) -> AsyncIterator[None]:
    before = (await redis.config_get(name))[name]
    await redis.config_set(name, value)
    try:
        yield
    finally:
        await redis.config_set(name, before)


async def test_an_evicting_redis_is_refused(redis: Redis) -> None:
    settings = make_settings()
    assert (await check_redis_storage(redis, settings)).policy == "noeviction"
    async with redis_config(redis, "maxmemory-policy", "allkeys-lru"):
        with pytest.raises(UnsafeRedis, match="allkeys-lru"):
            await check_redis_storage(redis, settings)
        warned = make_settings(redis_eviction_check="warn")
        assert (await check_redis_storage(redis, warned)).policy == "allkeys-lru"


async def test_a_redis_without_persistence_warns_or_is_refused(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    async with redis_config(redis, "appendonly", "no"), redis_config(redis, "save", ""):
        found = await check_redis_storage(redis, make_settings())
        assert found.persistent is False
        assert "persists nothing" in caplog.text
        with pytest.raises(UnsafeRedis, match="appendonly"):
            await check_redis_storage(redis, make_settings(redis_persistence_check="refuse"))
    async with redis_config(redis, "appendonly", "yes"):
        strict = make_settings(redis_persistence_check="refuse")
        assert (await check_redis_storage(redis, strict)).persistent is True


def test_the_worker_does_not_start_on_an_evicting_redis(
    redis_url: str,
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def set_policy(value: str) -> None:
        client = Redis.from_url(redis_url)
        await client.config_set("maxmemory-policy", value)
        await client.aclose()

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)  # the broker answers
    asyncio.run(set_policy("volatile-ttl"))
    try:
        assert main(["worker"]) == 1
    finally:
        asyncio.run(set_policy("noeviction"))
    assert "maxmemory-policy is 'volatile-ttl'" in capsys.readouterr().err
    # A refused start leaves this process's event loop as it was (uvloop is the worker's).
    assert type(asyncio.get_event_loop_policy()).__module__.startswith("asyncio")


# --- TTLs of re-created keys ---------------------------------------------------------------


async def test_record_sent_and_rewind_never_leave_a_key_without_ttl(redis: Redis) -> None:
    state = NotificationState(redis, ttl_seconds=600, correlation_ttl_seconds=900)
    key = keys.notification("acme", "n-1")
    # The record expired (or was never there) when the send finished: re-created with a TTL.
    await state.record_sent("acme", "n-1", "sendgrid", "pm-1")
    assert await redis.exists(key)
    assert 0 < await redis.ttl(key) <= 600
    await redis.delete(key)
    advanced = await state.advance("acme", "n-1", Status.DELIVERED)
    assert advanced is None  # nothing to advance
    await state.rewind("acme", "n-1", 1)
    assert 0 < await redis.ttl(key) <= 600
    # An existing record keeps the TTL it had.
    await redis.expire(key, 42)
    await state.rewind("acme", "n-1", 1)
    await state.record_sent("acme", "n-1", "sendgrid", "pm-1")
    assert 0 < await redis.ttl(key) <= 42


# --- upkeep fails closed -------------------------------------------------------------------


class Partition:
    """A TCP proxy in front of Redis that the test can cut (a network partition)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.cut = False
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Partition:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.sever()
        if self._server is not None:
            self._server.close()

    def sever(self) -> None:
        self.cut = True
        for writer in self._writers:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_a_session_closes_when_its_lease_cannot_be_renewed(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    async with Partition(port) as partition:
        flaky = Redis.from_url(f"redis://127.0.0.1:{partition.port}/0", socket_timeout=1)
        settings = make_settings(
            wppconnect_token_folder=str(tmp_path / "tokens"),
            wppconnect_lease_ttl_ms=3000,  # renewals every second
            wppconnect_lease_max_renew_failures=2,
        )
        fake, events = FakeWhatsApp(), Recorder()
        tokens = FileTokenStore(tmp_path / "tokens")
        tokens.profile_dir("acme").joinpath("fake-pairing").write_text("5511900000000")
        manager = SessionManager(
            settings,
            driver_factory=fake.factory,
            listener=events,
            tokens=tokens,
            leases=LeaseManager(flaky, "worker-1", ttl_ms=settings.wppconnect_lease_ttl_ms),
        )
        upkeep = Upkeep(manager)
        try:
            await manager.ensure("acme", SessionOptions(auto_close_ms=0))
            await events.wait(lambda r: "inChat" in r.status_names("acme"))
            await upkeep.once()  # renews fine
            session = manager.get("acme")
            assert session is not None
            assert session.running
            assert await redis.exists(lease_key("acme"))

            partition.sever()  # Redis unreachable from this worker
            await upkeep.once()  # first failure: still connected
            assert session.running
            await upkeep.once()  # second failure: closed, before the 3 s lease can lapse
            await events.wait(lambda r: "browserClose" in r.status_names("acme"))
            assert not session.running
            assert session.close_reason == "lease_unconfirmed"
            assert fake.latest("acme").closed
        finally:
            await manager.close_all()
            await flaky.aclose()
