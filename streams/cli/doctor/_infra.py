"""Doctor checks of the infrastructure: the Kafka broker and its topics, Redis."""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.settings import Settings
from streams.cli.doctor._model import Check, Outcome
from streams.cli.errors import CommandError, redact_url
from streams.cli.kafka import wait_for_kafka

__all__ = ["check_kafka", "check_redis", "check_redis_storage"]


async def _describe(settings: Settings) -> tuple[set[str], dict[str, int]]:
    """All topic names, and the partition count of Herald's topics that exist.

    Only existing topics are described: a metadata request naming a missing topic
    makes some brokers (tansu, Kafka with auto-create) create it.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="herald-doctor",
        request_timeout_ms=10_000,
    )
    await admin.start()
    try:
        names = set(await admin.list_topics())
        wanted = [t for t in settings.all_topics if t in names]
        described: list[Any] = await admin.describe_topics(wanted) if wanted else []
    finally:
        await admin.close()
    return names, {t["topic"]: len(t["partitions"]) for t in described}


async def check_kafka(settings: Settings, wait: float) -> Check:
    bootstrap = settings.kafka_bootstrap_servers
    try:
        await wait_for_kafka(settings, wait)  # says on stderr that it waits
        _, partitions = await _describe(settings)
    except (CommandError, KafkaError, OSError) as exc:
        return Check(
            "kafka",
            Outcome.FAIL,
            f"no answer from {bootstrap} within {wait:g}s",
            "start the broker or fix KAFKA_BOOTSTRAP_SERVERS (--broker-wait to wait longer)",
            {"error": str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__},
        )
    topics = settings.all_topics
    missing = [t for t in topics if t not in partitions]
    odd = {t: n for t, n in partitions.items() if n != settings.topic_partitions}
    details: dict[str, Any] = {"bootstrap": bootstrap, "partitions": partitions}
    if missing:
        return Check(
            "kafka",
            Outcome.FAIL,
            f"{bootstrap} answers; {len(missing)} of Herald's {len(topics)} topics missing: "
            + ", ".join(missing),
            "start a worker once (`herald worker` creates Herald's topics), "
            "or check the HERALD_TOPIC_* settings",
            {**details, "missing": missing},
        )
    if odd:
        shown = ", ".join(f"{t} has {n}" for t, n in sorted(odd.items()))
        return Check(
            "kafka",
            Outcome.WARN,
            f"{bootstrap} answers; {len(topics)} topics, but not all with "
            f"HERALD_TOPIC_PARTITIONS={settings.topic_partitions}: {shown}",
            "partitions bound a role's parallelism; recreate the topic (or change the "
            "setting) if that is not intended",
            {**details, "unexpected": odd},
        )
    return Check(
        "kafka",
        Outcome.OK,
        f"{bootstrap} answers; {len(topics)} topics, {settings.topic_partitions} partitions each",
        details=details,
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def check_redis(settings: Settings, redis: Redis) -> tuple[Check, bool]:
    """Whether Redis answers (and the ``bool`` the dependent checks need)."""
    url = redact_url(settings.redis_url)
    try:
        info: dict[str, Any] = await redis.info("server")
    except (RedisError, OSError) as exc:
        return Check(
            "redis",
            Outcome.FAIL,
            f"no answer from {url}: {str(exc)[:200]}",
            "start redis-server, or point REDIS_URL at a running Redis",
        ), False
    version = _text(info.get("redis_version", "?"))
    details = {"version": version, "mode": _text(info.get("redis_mode", "?"))}
    return Check("redis", Outcome.OK, f"{url} answers (Redis {version})", details=details), True


async def _config(redis: Redis, name: str) -> str | None:
    """``CONFIG GET name``; ``None`` where CONFIG is disabled (managed services)."""
    try:
        found: dict[Any, Any] = await redis.config_get(name)
    except RedisError:
        return None
    return _text(next(iter(found.values()))) if found else None


async def check_redis_storage(redis: Redis) -> Check:
    """Redis is Herald's primary storage: no eviction, and persisted."""
    memory: dict[str, Any] = await redis.info("memory")
    persistence: dict[str, Any] = await redis.info("persistence")
    policy = _text(memory.get("maxmemory_policy", "unknown"))
    aof = str(persistence.get("aof_enabled", "0")) == "1"
    save = await _config(redis, "save")
    rdb = bool(save)
    details = {"maxmemoryPolicy": policy, "appendonly": aof, "save": save}
    problems: list[str] = []
    hints: list[str] = []
    if policy != "noeviction":
        problems.append(f"maxmemory-policy is {policy}")
        hints.append(
            "set maxmemory-policy noeviction (evicted keys are lost idempotency records, "
            "integrations and API keys)"
        )
    if not aof and not rdb:
        what = "no persistence (appendonly no, no save points)"
        if save is None:
            what = "appendonly no, and the save points are unknown (CONFIG is disabled)"
        problems.append(what)
        hints.append("enable appendonly yes (or RDB snapshots): a restart would lose the state")
    if problems:
        return Check("redis storage", Outcome.WARN, "; ".join(problems), "; ".join(hints), details)
    kept = "AOF" if aof else f"RDB snapshots ({save})"
    return Check(
        "redis storage",
        Outcome.OK,
        f"maxmemory-policy noeviction; persisted by {kept}",
        None,
        details,
    )
