"""Herald's configuration: one pydantic-settings model, read from the environment and ``.env``.

The fields are grouped by concern, one module each, and composed into the one
:class:`Settings` (the attribute names and the variable names are flat, as before):

* :mod:`schemas.settings.core` -- CoreSettings
* :mod:`schemas.settings.kafka` -- KafkaSettings
* :mod:`schemas.settings.redis` -- RedisSettings
* :mod:`schemas.settings.delivery` -- DeliverySettings
* :mod:`schemas.settings.inbox` -- InboxSettings
* :mod:`schemas.settings.whatsapp_business` -- WhatsAppBusinessSettings
* :mod:`schemas.settings.whatsapp_web` -- WhatsAppWebSettings
* :mod:`schemas.settings.email` -- EmailSettings
* :mod:`schemas.settings.sms` -- SmsSettings
* :mod:`schemas.settings.push` -- PushSettings
* :mod:`schemas.settings.observability` -- ObservabilitySettings

Every field names its environment variable explicitly (``validation_alias``); every
variable is listed, with its default, in ``env.example``. A test keeps the two in step.
``HERALD_RATE_LIMITS``, ``HERALD_RETRY_POLICIES`` and ``HERALD_RETRY_TIERS`` are typed and
checked when the settings are read: a worker with a misspelt entry does not start.
"""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from schemas.settings.core import CoreSettings
from schemas.settings.delivery import DeliverySettings, RateLimitSetting, RetryPolicy
from schemas.settings.email import EmailSettings
from schemas.settings.inbox import InboxSettings
from schemas.settings.kafka import KafkaSettings
from schemas.settings.observability import ObservabilitySettings
from schemas.settings.push import PushSettings
from schemas.settings.redis import RedisSettings
from schemas.settings.sms import SmsSettings
from schemas.settings.whatsapp_business import WhatsAppBusinessSettings
from schemas.settings.whatsapp_web import WhatsAppWebSettings

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
