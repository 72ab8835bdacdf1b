"""Sending: provider timeout, retries and their policies, rate limits, bulkheads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.settings._env import Section, env

__all__ = ["DeliverySettings", "RateLimitSetting", "RetryPolicy"]


class RateLimitSetting(BaseModel):
    """One provider's entry of ``HERALD_RATE_LIMITS``: ``{"perSecond": 20, "burst": 40}``.

    Unknown keys (``per_second``, a typo) are refused at start: a misspelt limit must not
    silently leave a provider unlimited. ``perSecond: 0`` switches the limiter off.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: float = Field(ge=0, alias="perSecond")
    burst: int | None = Field(default=None, ge=1, description="Default: perSecond (at least 1).")


class RetryPolicy(BaseModel):
    """One provider's entry of ``HERALD_RETRY_POLICIES``; what it omits keeps the defaults.

    ``{"maxAttempts": 8, "baseDelay": 1, "factor": 2, "maxDelay": 600}``; unknown keys are
    refused at start.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int | None = Field(default=None, ge=1, alias="maxAttempts")
    base_delay: float | None = Field(default=None, ge=0, alias="baseDelay")
    factor: float | None = Field(default=None, ge=1)
    max_delay: float | None = Field(default=None, ge=0, alias="maxDelay")


class DeliverySettings(Section):
    """Sending: provider timeout, retries and their policies, rate limits, bulkheads."""

    provider_timeout_seconds: float = Field(
        10.0,
        gt=0,
        validation_alias=env("HERALD_PROVIDER_TIMEOUT_SECONDS"),
        description="Timeout of one provider HTTP call.",
    )
    send_max_attempts: int = Field(
        5,
        ge=1,
        validation_alias=env("HERALD_SEND_MAX_ATTEMPTS"),
        description="Attempts per notification for retryable provider errors before it fails.",
    )
    retry_base_delay_seconds: float = Field(
        2.0,
        ge=0,
        validation_alias=env("HERALD_RETRY_BASE_DELAY_SECONDS"),
        description="Delay before the first retry; multiplied by the factor per attempt, with jitter.",
    )
    retry_factor: float = Field(
        4.0,
        ge=1,
        validation_alias=env("HERALD_RETRY_FACTOR"),
        description="Backoff factor between attempts.",
    )
    retry_max_delay_seconds: float = Field(
        300.0,
        ge=0,
        validation_alias=env("HERALD_RETRY_MAX_DELAY_SECONDS"),
        description="Cap of a retry delay (also caps a provider's Retry-After).",
    )
    retry_policies: dict[str, RetryPolicy] = Field(
        default_factory=dict,
        validation_alias=env("HERALD_RETRY_POLICIES"),
        description='Per-provider overrides as JSON, e.g. {"twilio": {"maxAttempts": 8, "baseDelay": 1, "factor": 2, "maxDelay": 600}}.',
    )
    rate_limits: dict[str, RateLimitSetting] = Field(
        default_factory=dict,
        validation_alias=env("HERALD_RATE_LIMITS"),
        description='Token bucket per tenant and provider, as JSON: {"whatsapp-business": {"perSecond": 20, "burst": 40}}. Default: the provider\'s documented rate.',
    )
    bulkhead_limit: int = Field(
        32,
        ge=1,
        validation_alias=env("HERALD_BULKHEAD_LIMIT"),
        description="Provider calls in flight per tenant and provider; more wait on a delay topic, so one slow provider cannot take every slot.",
    )
    max_inline_wait_seconds: float = Field(
        1.0,
        ge=0,
        validation_alias=env("HERALD_MAX_INLINE_WAIT_SECONDS"),
        description="Longer rate-limit waits are spent on a delay topic instead of holding an in-flight slot.",
    )
    unknown_outcome: Literal["fail", "resend"] = Field(
        "fail",
        validation_alias=env("HERALD_UNKNOWN_OUTCOME"),
        description="After a crash during a provider call: fail the notification with outcome_unknown (never a duplicate) or send again (never a loss).",
    )
