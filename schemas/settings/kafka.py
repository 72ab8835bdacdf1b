"""Kafka: brokers, topic names and partitions, delay (retry) topics, group timing."""

from __future__ import annotations

from pydantic import Field, field_validator

from schemas.settings._env import Section, env

__all__ = ["KafkaSettings"]


class KafkaSettings(Section):
    """Kafka: brokers, topic names and partitions, delay (retry) topics, group timing."""

    kafka_bootstrap_servers: str = Field(
        "localhost:9092",
        validation_alias=env("KAFKA_BOOTSTRAP_SERVERS"),
        description="Comma-separated Kafka bootstrap servers (host:port).",
    )
    retry_tiers: str = Field(
        "5,30,300",
        validation_alias=env("HERALD_RETRY_TIERS"),
        description="Delay topics, in seconds (comma-separated): a retry waits on the smallest tier at least as long as its delay, on topic <HERALD_TOPIC_RETRY_PREFIX><tier>s.",
    )
    topic_requests: str = Field(
        "notifications.requests",
        validation_alias=env("HERALD_TOPIC_REQUESTS"),
        description="Input: notification requests.",
    )
    topic_status: str = Field(
        "notifications.status",
        validation_alias=env("HERALD_TOPIC_STATUS"),
        description="Output: status events.",
    )
    topic_dlq: str = Field(
        "notifications.dlq",
        validation_alias=env("HERALD_TOPIC_DLQ"),
        description="Output: undecodable input, byte for byte, with herald-dlq-* headers.",
    )
    topic_whatsapp_qr: str = Field(
        "whatsapp.qr",
        validation_alias=env("HERALD_TOPIC_WHATSAPP_QR"),
        description="Output: WhatsApp Web QR codes (reserved).",
    )
    topic_whatsapp_state: str = Field(
        "whatsapp.state",
        validation_alias=env("HERALD_TOPIC_WHATSAPP_STATE"),
        description="Output: WhatsApp Web session states (reserved).",
    )
    topic_whatsapp_inbound: str = Field(
        "whatsapp.inbound",
        validation_alias=env("HERALD_TOPIC_WHATSAPP_INBOUND"),
        description="Output: incoming WhatsApp Web messages (reserved).",
    )
    topic_whatsapp_commands: str = Field(
        "whatsapp.commands",
        validation_alias=env("HERALD_TOPIC_WHATSAPP_COMMANDS"),
        description="Input: WhatsApp Web session commands (reserved).",
    )
    topic_whatsapp_dispatch: str = Field(
        "whatsapp.dispatch",
        validation_alias=env("HERALD_TOPIC_WHATSAPP_DISPATCH"),
        description="Internal: requests the router hands to the WhatsApp Web session workers, keyed by tenant.",
    )
    topic_retry_prefix: str = Field(
        "notifications.retry.",
        validation_alias=env("HERALD_TOPIC_RETRY_PREFIX"),
        description="Internal: prefix of the delay topics (one per retry tier).",
    )
    topic_partitions: int = Field(
        8,
        ge=1,
        validation_alias=env("HERALD_TOPIC_PARTITIONS"),
        description="Partitions of the topics Herald creates at start.",
    )
    topic_replication_factor: int = Field(
        1,
        ge=1,
        validation_alias=env("HERALD_TOPIC_REPLICATION_FACTOR"),
        description="Replication factor of the topics Herald creates.",
    )
    broker_rebalance_timeout: float = Field(
        60.0,
        gt=0,
        validation_alias=env("HERALD_BROKER_REBALANCE_TIMEOUT"),
        description="Consumer-group rebalance timeout, seconds (a few seconds in dev and tests).",
    )
    broker_session_timeout: float = Field(
        60.0,
        gt=0,
        validation_alias=env("HERALD_BROKER_SESSION_TIMEOUT"),
        description="Consumer-group session timeout, seconds.",
    )
    broker_heartbeat_interval: float = Field(
        3.0,
        gt=0,
        validation_alias=env("HERALD_BROKER_HEARTBEAT_INTERVAL"),
        description="Consumer-group heartbeat interval, seconds.",
    )

    @field_validator("retry_tiers")
    @classmethod
    def _tiers(cls, value: str) -> str:
        """Positive numbers of seconds, comma-separated, at least one, no repeats."""
        try:
            tiers = [float(t) for t in value.split(",") if t.strip()]
        except ValueError:
            raise ValueError("must be comma-separated numbers of seconds, e.g. 5,30,300") from None
        if not tiers or any(t <= 0 for t in tiers) or len(set(tiers)) != len(tiers):
            raise ValueError("needs at least one tier, each > 0 seconds, none twice")
        return value

    @property
    def all_topics(self) -> list[str]:
        return [
            self.topic_requests,
            self.topic_status,
            self.topic_dlq,
            self.topic_whatsapp_qr,
            self.topic_whatsapp_state,
            self.topic_whatsapp_inbound,
            self.topic_whatsapp_commands,
            self.topic_whatsapp_dispatch,
            *self.retry_topics.values(),
        ]

    @property
    def retry_tier_seconds(self) -> list[float]:
        return sorted(float(t) for t in self.retry_tiers.split(",") if t.strip())

    @property
    def retry_topics(self) -> dict[float, str]:
        """Tier (seconds) -> delay topic name."""
        return {t: f"{self.topic_retry_prefix}{t:g}s" for t in self.retry_tier_seconds}
