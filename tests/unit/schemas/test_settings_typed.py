"""The settings grouped by concern: same names, typed rate limits, retry policies and tiers
refused at start when misspelt, and round-tripped through the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.settings import RateLimitSetting, RetryPolicy, Settings
from schemas.settings.channels import WhatsAppWebSettings
from schemas.settings.platform import CoreSettings, KafkaSettings
from streams.platform.embedded import settings_env, settings_env_names


def test_one_settings_object_with_flat_names_composed_of_the_concerns() -> None:
    settings = Settings(_env_file=None)
    assert isinstance(settings, CoreSettings)
    assert isinstance(settings, KafkaSettings)
    assert isinstance(settings, WhatsAppWebSettings)
    assert settings.kafka_bootstrap_servers == "localhost:9092"
    assert settings.wppconnect_max_sessions >= 1
    assert settings_env_names()["rate_limits"] == "HERALD_RATE_LIMITS"


def test_rate_limits_are_typed_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "HERALD_RATE_LIMITS", '{"twilio": {"perSecond": 5}, "sns": {"perSecond": 0}}'
    )
    limits = Settings(_env_file=None).rate_limits
    assert limits["twilio"] == RateLimitSetting(perSecond=5)
    assert limits["twilio"].burst is None
    assert limits["sns"].per_second == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HERALD_RATE_LIMITS", '{"twilio": {"per_second": 5}}'),  # the typo
        ("HERALD_RATE_LIMITS", '{"twilio": {"perSecond": -1}}'),
        ("HERALD_RATE_LIMITS", '{"twilio": {"perSecond": 5, "burst": 0}}'),
        ("HERALD_RATE_LIMITS", '{"twilio": 5}'),
        ("HERALD_RETRY_POLICIES", '{"twilio": {"max_attempts": 8}}'),
        ("HERALD_RETRY_POLICIES", '{"twilio": {"maxAttempts": 0}}'),
        ("HERALD_RETRY_POLICIES", '{"twilio": {"factor": 0.5}}'),
        ("HERALD_RETRY_TIERS", "5,thirty,300"),
        ("HERALD_RETRY_TIERS", "0,30"),
        ("HERALD_RETRY_TIERS", "30,30"),
        ("HERALD_RETRY_TIERS", " , "),
    ],
)
def test_a_misspelt_entry_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_retry_policies_keep_what_they_omit_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_RETRY_POLICIES", '{"twilio": {"maxAttempts": 8, "maxDelay": 60}}')
    policy = Settings(_env_file=None).retry_policies["twilio"]
    assert policy == RetryPolicy(maxAttempts=8, maxDelay=60)
    assert (policy.base_delay, policy.factor) == (None, None)


def test_typed_entries_survive_the_trip_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Settings(
        _env_file=None,
        rate_limits={"twilio": {"perSecond": 2.5, "burst": 4}},
        retry_policies={"sns": {"factor": 3}},
        retry_tiers="2,10",
    )
    for name, value in settings_env(original).items():
        monkeypatch.setenv(name, value)
    again = Settings(_env_file=None)
    assert again.rate_limits == original.rate_limits
    assert again.retry_policies == original.retry_policies
    assert again.retry_tier_seconds == [2.0, 10.0]
