"""Provider errors: one root, two branches, shared by every provider.

The tree::

    HeraldError
    └── ProviderError              (code, message, provider_code)
        ├── RetryableError         (retry_after) -- try again later, maybe elsewhere
        │   └── ProviderTimeout
        └── PermanentError         -- retrying cannot help; fail the notification now
            ├── InvalidRequest     -- the request itself is wrong: rejected, never accepted
            └── InvalidCredentials -- the integration is misconfigured

Providers translate foreign errors (httpx, the service's error bodies) into this tree
at their boundary with ``raise ... from exc``; nothing else leaves a provider. Failure
is always an exception, never a boolean.
"""

from __future__ import annotations

__all__ = [
    "HeraldError",
    "InvalidCredentials",
    "InvalidRequest",
    "PermanentError",
    "ProviderError",
    "ProviderTimeout",
    "RetryableError",
]


class HeraldError(Exception):
    """Root of every error Herald raises on purpose."""


class ProviderError(HeraldError):
    """A provider could not deliver. ``code`` is machine-readable and goes to ``error.code``.

    ``provider_code`` keeps the service's own code (e.g. Graph API 131026) for logs and
    metadata when ``code`` is one of Herald's.
    """

    retryable: bool = False

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


class InvalidRequest(PermanentError):
    """The request cannot be sent by this provider (bad recipient, unsupported content).

    Raised by ``Provider.validate``; the router answers it with ``rejected``.
    """


class InvalidCredentials(PermanentError):
    """The tenant's credentials are missing, malformed or refused by the service."""
