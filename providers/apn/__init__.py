"""The ``apn`` provider: Apple Push Notification service (HTTP/2, token-based auth).

Sending (:class:`APNProvider`), the provider-token cache (:class:`ProviderTokenCache`),
Apple's reason table (:data:`APNS_REASONS`) and the payload builders.
"""

from __future__ import annotations

from providers.apn._credentials import APNCredentials
from providers.apn._errors import (
    APNS_REASONS,
    TOKEN_UNREGISTERED,
    ApnsReason,
    error_from_response,
    parse_reason,
)
from providers.apn._payload import (
    MAX_PAYLOAD_BYTES,
    PUSH_TYPES,
    ApnsOptions,
    build_headers,
    build_payload,
    device_token,
    options,
)
from providers.apn._provider import APNS_PRODUCTION_URL, APNS_SANDBOX_URL, APNProvider
from providers.apn._token import (
    DEFAULT_PROVIDER_TOKENS,
    TOKEN_MAX_AGE,
    TOKEN_MIN_AGE,
    ProviderTokenCache,
    load_signing_key,
)

__all__ = [
    "APNS_PRODUCTION_URL",
    "APNS_REASONS",
    "APNS_SANDBOX_URL",
    "DEFAULT_PROVIDER_TOKENS",
    "MAX_PAYLOAD_BYTES",
    "PUSH_TYPES",
    "TOKEN_MAX_AGE",
    "TOKEN_MIN_AGE",
    "TOKEN_UNREGISTERED",
    "APNCredentials",
    "APNProvider",
    "ApnsOptions",
    "ApnsReason",
    "ProviderTokenCache",
    "build_headers",
    "build_payload",
    "device_token",
    "error_from_response",
    "load_signing_key",
    "options",
    "parse_reason",
]
