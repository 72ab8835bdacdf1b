"""Herald's error tree: one root, and every error the router acts on, retryable or not.

The tree::

    HeraldError                        retryable: may the same work succeed later?
    ├── ProviderError                  (code, message, provider_code) -- a send failed
    │   ├── RetryableError             (retry_after) -- try again later, maybe elsewhere
    │   │   └── ProviderTimeout
    │   └── PermanentError             -- retrying cannot help; fail the notification now
    │       ├── InvalidRequest         -- the request itself is wrong: rejected, never accepted
    │       └── InvalidCredentials     -- the integration is misconfigured
    ├── Rejection                      permanent (code) -- the request cannot be routed
    ├── DriverError                    retryable -- a WhatsApp Web page call did not complete
    │   └── (DriverClosed, ContextReset, DriverTimeout, WppError in streams.whatsapp.driver)
    ├── BrokerUnavailable              retryable -- the Kafka broker did not answer in time
    └── IntegrationError               permanent -- a tenant's stored configuration is unusable
        ├── InvalidTenantId
        ├── UnknownProvider
        └── InvalidIntegrationCredentials

(``CryptoError`` in ``streams.tenancy.crypto`` and the CLI's ``CommandError`` hang from the
root too; neither reaches the router.)

``retryable`` is a class attribute on every branch, so code that only needs to know
whether to try again reads it instead of enumerating classes. Providers translate foreign
errors (httpx, the service's error bodies) into this tree at their boundary with
``raise ... from exc``; nothing else leaves a provider. Failure is always an exception,
never a boolean.

This module depends on nothing but the standard library: ``providers``, ``streams`` and
``sandbox``-free tooling can all import it.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BrokerUnavailable",
    "DriverError",
    "HeraldError",
    "IntegrationError",
    "InvalidCredentials",
    "InvalidIntegrationCredentials",
    "InvalidRequest",
    "InvalidTenantId",
    "PermanentError",
    "ProviderError",
    "ProviderTimeout",
    "Rejection",
    "RetryableError",
    "UnknownProvider",
]


class HeraldError(Exception):
    """Root of every error Herald raises on purpose."""

    #: Whether the same work may succeed if tried again later.
    retryable: ClassVar[bool] = False


# --- sending --------------------------------------------------------------------------


class ProviderError(HeraldError):
    """A provider could not deliver. ``code`` is machine-readable and goes to ``error.code``.

    ``provider_code`` keeps the service's own code (e.g. Graph API 131026) for logs and
    metadata when ``code`` is one of Herald's.
    """

    def __init__(self, code: str, message: str, *, provider_code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.provider_code = provider_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class RetryableError(ProviderError):
    """Transient: the same request may succeed later. ``retry_after`` is in seconds."""

    retryable = True

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(code, message, provider_code=provider_code)
        self.retry_after = retry_after


class ProviderTimeout(RetryableError):
    def __init__(self, message: str = "provider did not answer in time") -> None:
        super().__init__("provider_timeout", message)


class PermanentError(ProviderError):
    """Final: retrying the same request cannot succeed."""

    retryable = False


class InvalidRequest(PermanentError):
    """The request cannot be sent by this provider (bad recipient, unsupported content).

    Raised by ``Provider.validate``; the router answers it with ``rejected``.
    """


class InvalidCredentials(PermanentError):
    """The tenant's credentials are missing, malformed or refused by the service."""


# --- routing --------------------------------------------------------------------------


class Rejection(HeraldError):
    """The request cannot be routed; becomes a ``rejected`` status with ``code``."""

    retryable = False

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DriverError(HeraldError):
    """A WhatsApp Web page call did not complete (the session may recover)."""

    retryable = True


class BrokerUnavailable(HeraldError, RuntimeError):
    """The Kafka broker did not answer in time."""

    retryable = True


# --- tenant configuration -----------------------------------------------------------


class IntegrationError(HeraldError):
    """Root of the integration store's errors: the stored configuration is unusable."""

    retryable = False


class InvalidTenantId(IntegrationError):
    pass


class UnknownProvider(IntegrationError):
    def __init__(self, provider: str, known: list[str]) -> None:
        super().__init__(
            f"unknown provider {provider!r}: credentials can be stored for {', '.join(known)}"
        )
        self.provider = provider
        self.known = known


class InvalidIntegrationCredentials(IntegrationError):
    """``errors`` maps each offending field's wire name to what is wrong (never its value)."""

    def __init__(self, provider: str, errors: dict[str, str]) -> None:
        detail = "; ".join(f"{name}: {message}" for name, message in errors.items())
        super().__init__(f"invalid {provider} credentials: {detail}")
        self.provider = provider
        self.errors = errors
