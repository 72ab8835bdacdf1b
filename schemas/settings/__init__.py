"""Herald's configuration: one pydantic-settings model, read from the environment and ``.env``.

The fields are grouped by concern, a class each, and composed into the one
:class:`Settings` (the attribute names and the variable names are flat, as before):

* CoreSettings (:mod:`schemas.settings.platform`)
* KafkaSettings (:mod:`schemas.settings.platform`)
* RedisSettings (:mod:`schemas.settings.platform`)
* DeliverySettings (:mod:`schemas.settings.delivery`)
* InboxSettings (:mod:`schemas.settings.platform`)
* WhatsAppBusinessSettings (:mod:`schemas.settings.channels`)
* WhatsAppWebSettings (:mod:`schemas.settings.channels`)
* WhatsAppAssetsSettings (:mod:`schemas.settings.whatsapp_assets`)
* EmailSettings (:mod:`schemas.settings.channels`)
* SmsSettings (:mod:`schemas.settings.channels`)
* PushSettings (:mod:`schemas.settings.channels`)
* ObservabilitySettings (:mod:`schemas.settings.platform`)

Every field names its environment variable explicitly (``validation_alias``); every
variable is listed, with its default, in ``env.example``. A test keeps the two in step.
``HERALD_RATE_LIMITS``, ``HERALD_RETRY_POLICIES`` and ``HERALD_RETRY_TIERS`` are typed and
checked when the settings are read: a worker with a misspelt entry does not start.
"""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from schemas.settings.channels import (
    EmailSettings,
    PushSettings,
    SmsSettings,
    WhatsAppBusinessSettings,
    WhatsAppWebSettings,
)
from schemas.settings.delivery import DeliverySettings, RateLimitSetting, RetryPolicy
from schemas.settings.platform import (
    CoreSettings,
    InboxSettings,
    KafkaSettings,
    ObservabilitySettings,
    RedisSettings,
)
from schemas.settings.whatsapp_assets import WhatsAppAssetsSettings

__all__ = [
    "RateLimitSetting",
    "RetryPolicy",
    "Settings",
]


class Settings(
    ObservabilitySettings,
    PushSettings,
    SmsSettings,
    EmailSettings,
    WhatsAppAssetsSettings,
    WhatsAppWebSettings,
    WhatsAppBusinessSettings,
    InboxSettings,
    DeliverySettings,
    RedisSettings,
    KafkaSettings,
    CoreSettings,
):
    """All of Herald's settings (the bases, last first, are the concerns' sections)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
    )

    @model_validator(mode="after")
    def _records_fit(self) -> Settings:
        """Limits agree end to end: every record made from a request fits the record size."""
        if self.max_request_bytes + 65_536 > self.kafka_max_record_bytes:
            raise ValueError(
                "HERALD_MAX_REQUEST_BYTES must be at most HERALD_KAFKA_MAX_RECORD_BYTES - 65536 "
                f"({self.kafka_max_record_bytes - 65_536}): records made from a request must "
                "fit the producer's and broker's record size"
            )
        return self
