"""The ``firebase`` provider: Firebase Cloud Messaging HTTP v1.

Sending (:class:`FirebaseProvider`), the OAuth 2.0 access-token cache
(:class:`AccessTokenCache`, google-auth underneath), FCM's error table
(:data:`FCM_ERRORS`) and the message builder.
"""

from __future__ import annotations

from providers.firebase._auth import (
    DEFAULT_ACCESS_TOKENS,
    FCM_SCOPE,
    REFRESH_MARGIN,
    AccessToken,
    AccessTokenCache,
    fetch_access_token,
)
from providers.firebase._credentials import GOOGLE_TOKEN_URI, FirebaseCredentials
from providers.firebase._errors import (
    FCM_ERROR_TYPE,
    FCM_ERRORS,
    TOKEN_UNREGISTERED,
    FcmErrorBody,
    error_from_response,
    parse_error,
)
from providers.firebase._payload import FcmOptions, build_message, options, registration_token
from providers.firebase._provider import FirebaseProvider

__all__ = [
    "DEFAULT_ACCESS_TOKENS",
    "FCM_ERRORS",
    "FCM_ERROR_TYPE",
    "FCM_SCOPE",
    "GOOGLE_TOKEN_URI",
    "REFRESH_MARGIN",
    "TOKEN_UNREGISTERED",
    "AccessToken",
    "AccessTokenCache",
    "FcmErrorBody",
    "FcmOptions",
    "FirebaseCredentials",
    "FirebaseProvider",
    "build_message",
    "error_from_response",
    "fetch_access_token",
    "options",
    "parse_error",
    "registration_token",
]
