"""The embedded broker and Redis, topic creation, and the Kafka test helpers."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient

from schemas.settings import Settings
from streams.platform.admin import BrokerUnavailable, ensure_topics, wait_for_broker
from streams.platform.embedded import embedded_kafka, embedded_redis, find_free_port, wait_for_redis
from tests.helpers import WorkerProcess, consume_until, produce, produce_many, settings_env

pytestmark = pytest.mark.integration


async def _partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}


async def test_session_broker_answers_metadata(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    assert len(cluster["brokers"]) >= 1


async def test_ensure_topics_creates_all_topics_with_configured_partitions(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory()
    assert settings.topic_partitions == 8

    await ensure_topics(settings)

    counts = await _partition_counts(settings.kafka_bootstrap_servers, settings.all_topics)
    assert counts == dict.fromkeys(settings.all_topics, 8)


async def test_ensure_topics_is_idempotent(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(topic_partitions=3)
    topics = [settings.topic_requests, settings.topic_status]

    await ensure_topics(settings, topics)
    await ensure_topics(settings, topics)
    # A later call with another partition count leaves existing topics alone.
    await ensure_topics(settings.model_copy(update={"topic_partitions": 5}), topics)

    counts = await _partition_counts(settings.kafka_bootstrap_servers, topics)
    assert counts == dict.fromkeys(topics, 3)


async def test_round_trip_keeps_key_value_headers_and_tenant_partition(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory()
    await ensure_topics(settings, [settings.topic_requests])
    topic = settings.topic_requests

    first = await produce(settings, topic, "tenant-a", b'{"n":1}', {"trace": "t-1"})
    sent = await produce_many(settings, topic, [("tenant-a", '{"n":2}'), ("tenant-b", b'{"n":3}')])

    records = await consume_until(settings, topic, 3, timeout=30.0)
    by_value = {r.value: r for r in records}
    assert set(by_value) == {b'{"n":1}', b'{"n":2}', b'{"n":3}'}
    assert by_value[b'{"n":1}'].key == b"tenant-a"
    assert list(by_value[b'{"n":1}'].headers) == [("trace", b"t-1")]
    assert first.partition == sent[0].partition  # same key, same partition
    assert 0 <= sent[1].partition < settings.topic_partitions


async def test_consume_until_filters_and_times_out_naming_what_it_saw(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory()
    topic = settings.topic_status
    await ensure_topics(settings, [topic])
    await produce_many(settings, topic, [("k", b"skip"), ("k", b"keep"), ("k", b"skip")])

    kept = await consume_until(settings, topic, 1, where=lambda r: r.value == b"keep")
    assert [r.value for r in kept] == [b"keep"]

    with pytest.raises(TimeoutError, match=r"collected 3 record\(s\)"):
        await consume_until(settings, topic, 4, timeout=1.0)


async def test_embedded_kafka_process_is_gone_after_exit() -> None:
    async with embedded_kafka() as bootstrap:
        await wait_for_broker(bootstrap, 5.0)
    with pytest.raises(BrokerUnavailable):
        await wait_for_broker(bootstrap, 0.2)


async def test_wait_for_broker_fails_clearly_when_nothing_listens() -> None:
    bootstrap = f"127.0.0.1:{find_free_port()}"
    with pytest.raises(BrokerUnavailable, match=bootstrap):
        await wait_for_broker(bootstrap, 0.2)


async def test_ensure_topics_fails_clearly_without_broker(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(kafka_bootstrap_servers=f"127.0.0.1:{find_free_port()}")
    with pytest.raises(BrokerUnavailable):
        await ensure_topics(settings, timeout=0.3)


async def test_redis_fixture_answers_ping_and_keeps_bytes(redis: aioredis.Redis) -> None:
    assert await redis.ping() is True
    await redis.set(b"herald:test:bytes", b"\x00\xff")
    assert await redis.get(b"herald:test:bytes") == b"\x00\xff"


async def test_embedded_redis_is_diskless_and_gone_after_exit() -> None:
    async with embedded_redis() as url:
        client = aioredis.Redis.from_url(url)
        try:
            config = await client.config_get("save")
            assert config["save"] == ""
            assert (await client.config_get("appendonly"))["appendonly"] == "no"
        finally:
            await client.aclose()
    with pytest.raises(TimeoutError, match="did not answer PING"):
        await wait_for_redis(url, 0.2)


FAKE_WORKER = """
import http.server, os, sys
hits = 0
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global hits
        hits += 1
        self.send_response(200 if hits > 3 else 503)  # ready after a few polls
        self.end_headers()
    def log_message(self, *args):
        pass
print("fake worker app", os.environ["HERALD_APP_ID"], flush=True)
if os.environ.get("FAIL"):
    print("boom: cannot start", flush=True)
    sys.exit(3)
http.server.HTTPServer(("127.0.0.1", int(os.environ["HERALD_WEB_PORT"])), Health).serve_forever()
"""


async def test_worker_process_waits_for_health_stops_and_restarts(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory()
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    worker = WorkerProcess(
        settings,
        workdir=tmp_path / "w",
        log_path=tmp_path / "w.log",
        argv=[sys.executable, str(script)],
    )
    await worker.start()
    assert worker.running
    assert f"fake worker app {settings.app_id}" in worker.log_tail()
    first_pid = worker.pid

    await worker.restart()
    assert worker.running
    assert worker.pid != first_pid

    assert await worker.stop() == -signal.SIGTERM
    assert not worker.running
    await worker.start()
    assert await worker.kill() == -signal.SIGKILL


async def test_worker_process_failure_quotes_the_log(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    worker = WorkerProcess(
        settings_factory(),
        workdir=tmp_path / "w",
        log_path=tmp_path / "w.log",
        extra_env={"FAIL": "1"},
        argv=[sys.executable, str(script)],
    )
    with pytest.raises(RuntimeError, match=r"exited with code 3(.|\n)*boom: cannot start"):
        await worker.start()


def test_settings_env_exports_every_set_field(settings_factory: Callable[..., Settings]) -> None:
    env = settings_env(settings_factory())
    assert env["HERALD_TOPIC_PARTITIONS"] == "8"
    assert env["HERALD_BROKER_REBALANCE_TIMEOUT"] == "4.0"
    assert env["HERALD_SECRET_KEY"]
    assert "HERALD_PUBLIC_URL" not in env
