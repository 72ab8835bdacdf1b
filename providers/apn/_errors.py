"""APNs error responses -> Herald's error tree, from one table of Apple's reasons.

An unsuccessful response carries ``{"reason": "BadDeviceToken"}`` (410 adds
``"timestamp"``, milliseconds since the epoch, when the token stopped being valid).
The raised exception's ``code`` is Apple's reason, except for an unregistered device
token: ``token_unregistered``, so that producers can drop the token. An unlisted reason
falls back on the HTTP status (429 and 5xx retryable, other 4xx permanent).

Reference: "Handling notification responses from APNs" (developer.apple.com).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from providers.errors import error_for, from_status, from_transport, json_field, retry_after
from schemas.errors import InvalidCredentials, PermanentError, ProviderError, RetryableError
from schemas.status import ErrorCode

__all__ = [
    "APNS_REASONS",
    "TOKEN_UNREGISTERED",
    "ApnsReason",
    "error_from_response",
    "error_from_transport",
    "parse_reason",
]

#: ``error.code`` of a device token APNs no longer accepts: delete it.
TOKEN_UNREGISTERED = "token_unregistered"


@dataclass(frozen=True, slots=True)
class ApnsReason:
    """How Herald treats one APNs reason."""

    kind: str  # "retry", "final", "credentials", "unregistered"
    description: str


def _retry(description: str) -> ApnsReason:
    return ApnsReason("retry", description)


def _final(description: str) -> ApnsReason:
    return ApnsReason("final", description)


def _creds(description: str) -> ApnsReason:
    return ApnsReason("credentials", description)


#: Apple's documented reasons.
APNS_REASONS: Mapping[str, ApnsReason] = {
    # 400
    "BadCollapseId": _final("The collapse identifier exceeds the maximum allowed size"),
    "BadDeviceToken": _final("Bad device token (or a token of the other environment)"),
    "BadExpirationDate": _final("The apns-expiration value is bad"),
    "BadMessageId": _final("The apns-id value is bad"),
    "BadPriority": _final("The apns-priority value is bad"),
    "BadTopic": _final("The apns-topic value is bad"),
    "DeviceTokenNotForTopic": _final("The device token does not match the specified topic"),
    "DuplicateHeaders": _final("One or more headers are repeated"),
    "IdleTimeout": _retry("Idle timeout"),
    "InvalidPushType": _final("The apns-push-type value is invalid"),
    "MissingDeviceToken": _final("The device token is not specified in the request path"),
    "MissingTopic": _final("The apns-topic header is required and missing"),
    "PayloadEmpty": _final("The message payload is empty"),
    "TopicDisallowed": _final("Pushing to this topic is not allowed"),
    # 403
    "BadCertificate": _creds("The certificate is invalid"),
    "BadCertificateEnvironment": _creds("The client certificate is for the wrong environment"),
    "ExpiredProviderToken": _creds("The provider token is stale (check the server clock)"),
    "Forbidden": _creds("The specified action is not allowed"),
    "InvalidProviderToken": _creds("The provider token is not valid or its signature is wrong"),
    "MissingProviderToken": _creds("No provider certificate and no provider token"),
    "UnrelatedKeyIdInToken": _creds("The key id in the provider token is not related"),
    # 404, 405
    "BadPath": _final("The request contained an invalid :path value"),
    "MethodNotAllowed": _final("The specified :method value is not POST"),
    # 410
    "ExpiredToken": ApnsReason("unregistered", "The device token has expired"),
    "Unregistered": ApnsReason("unregistered", "The device token is inactive for the topic"),
    # 413
    "PayloadTooLarge": _final("The message payload is too large"),
    # 429
    "TooManyProviderTokenUpdates": _retry("The provider token is being updated too often"),
    "TooManyRequests": _retry("Too many requests to the same device token"),
    # 500, 503
    "InternalServerError": _retry("An internal server error occurred"),
    "ServiceUnavailable": _retry("The service is unavailable"),
    "Shutdown": _retry("The APNs server is shutting down"),
}


def parse_reason(body: bytes) -> tuple[str, int | None] | None:
    """``(reason, timestamp)`` from an APNs error body; ``None`` when it is not one."""
    data = json_field(body)
    if not isinstance(data, dict):
        return None
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason:
        return None
    timestamp = data.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        timestamp = None
    return reason, timestamp


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a non-200 APNs response into the exception to raise."""
    status = response.status_code
    retry_after_ = retry_after(response.headers)
    parsed = parse_reason(response.content)
    if parsed is None:
        return _from_status(status, retry_after_)
    reason, timestamp = parsed
    spec = APNS_REASONS.get(reason)
    message = f"APNs {status} {reason}" + (f": {spec.description}" if spec else "")
    if spec is None:
        return error_for(
            reason, message, None, status=status, retry_after=retry_after_, auth_statuses=(403,)
        )
    if spec.kind == "unregistered":
        if timestamp is not None:
            message += f" (since {timestamp} ms)"
        return PermanentError(TOKEN_UNREGISTERED, message, provider_code=reason)
    if spec.kind == "credentials":
        return InvalidCredentials(reason, message, provider_code=reason)
    if spec.kind == "retry":
        return RetryableError(reason, message, retry_after=retry_after_, provider_code=reason)
    return PermanentError(reason, message, provider_code=reason)


def _from_status(status: int, retry_after: float | None) -> ProviderError:
    reason = f"APNs HTTP {status} without a readable reason"
    if status == 410:
        return PermanentError(TOKEN_UNREGISTERED, reason, provider_code=f"http_{status}")
    if 200 <= status < 300:
        return RetryableError(
            ErrorCode.PROVIDER_UNAVAILABLE.value,
            f"APNs answered HTTP {status} unexpectedly",
            provider_code=f"http_{status}",
        )
    return from_status(status, reason, retry_after=retry_after, auth_statuses=(403,))


def error_from_transport(exc: httpx.HTTPError) -> ProviderError:
    """Translate an httpx failure (no usable response) into the exception to raise."""
    return from_transport(exc, "APNs")
