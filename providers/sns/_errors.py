"""SNS query API errors -> Herald's error tree, driven by one table of documented codes.

The codes are those of the ``Publish`` action (botocore's SNS service model) and the
AWS common errors every query API answers (authentication, throttling, availability).
An unlisted code falls back on the HTTP status and the error ``Type`` (``Receiver``
faults and 5xx are retryable). A refused message fails with the AWS code itself in
``error.code`` (``"InvalidParameter"``).

References: https://docs.aws.amazon.com/sns/latest/api/API_Publish.html and
https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from providers._parsing import retry_after as _retry_after
from providers._sms import ErrorSpec, auth, final, retry
from providers.sns._query import parse_error
from schemas.errors import (
    InvalidCredentials,
    PermanentError,
    ProviderError,
    ProviderTimeout,
    RetryableError,
)
from schemas.status import ErrorCode

__all__ = ["SNS_ERRORS", "error_from_response", "error_from_transport"]

_E = ErrorCode

#: AWS error codes -> retryability and meaning.
SNS_ERRORS: Mapping[str, ErrorSpec] = {
    # Authentication and authorization (the integration's keys or IAM policy)
    "InvalidClientTokenId": auth("The access key id does not exist"),
    "SignatureDoesNotMatch": auth("The signature does not match: wrong secret access key"),
    "IncompleteSignature": auth("The request signature is incomplete"),
    "MissingAuthenticationToken": auth("The request is not signed"),
    "ExpiredToken": auth("The session token has expired"),
    "UnrecognizedClientException": auth("The security token is invalid"),
    "InvalidSecurity": auth("The credential signature is not valid"),
    "AuthorizationError": auth("IAM denies sns:Publish for these credentials"),
    "AccessDenied": auth("Access denied"),
    "AccessDeniedException": auth("Access denied"),
    "OptInRequired": auth("The account is not subscribed to SNS"),
    # Throttling and availability
    "Throttling": retry(_E.RATE_LIMITED, "Rate exceeded"),
    "ThrottlingException": retry(_E.RATE_LIMITED, "Rate exceeded"),
    "Throttled": retry(_E.RATE_LIMITED, "Request rate for this action exceeded"),
    "KMSThrottling": retry(_E.RATE_LIMITED, "KMS throttled the request"),
    "InternalError": retry(_E.PROVIDER_UNAVAILABLE, "Internal service error"),
    "InternalFailure": retry(_E.PROVIDER_UNAVAILABLE, "Internal failure"),
    "ServiceUnavailable": retry(_E.PROVIDER_UNAVAILABLE, "Service unavailable"),
    # The request or its recipient
    "InvalidParameter": final(_E.INVALID_REQUEST, "A request parameter is not valid"),
    "ParameterValueInvalid": final(_E.INVALID_REQUEST, "A request parameter value is not valid"),
    "ValidationError": final(_E.INVALID_REQUEST, "The input fails to satisfy the constraints"),
    "ValidationException": final(_E.INVALID_REQUEST, "A parameter in the request is invalid"),
    "MissingParameter": final(_E.INVALID_REQUEST, "A required parameter is missing"),
    "InvalidAction": final(_E.INVALID_REQUEST, "The action is not valid"),
    "OptedOut": final(_E.INVALID_RECIPIENT, "The phone number opted out of SMS"),
    "EndpointDisabled": final(_E.INVALID_RECIPIENT, "The endpoint is disabled"),
    "NotFound": final(_E.PROVIDER_ERROR, "The requested resource does not exist"),
    "RequestExpired": final(_E.PROVIDER_ERROR, "Request expired: check this host's clock"),
    "KMSAccessDenied": final(_E.PROVIDER_INACTIVE, "KMS access denied"),
    "KMSDisabled": final(_E.PROVIDER_INACTIVE, "The KMS key is disabled"),
    "KMSInvalidState": final(_E.PROVIDER_INACTIVE, "The KMS key is in an invalid state"),
    "KMSNotFound": final(_E.PROVIDER_INACTIVE, "The KMS key was not found"),
}


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a non-2xx SNS response into the exception to raise."""
    status = response.status_code
    retry_after = _retry_after(response.headers)
    error = parse_error(response.content)
    if error is None:
        return _from_status(status, retry_after)
    message = error.message if len(error.message) <= 500 else error.message[:499] + "…"
    spec = SNS_ERRORS.get(error.code)
    if spec is not None and spec.credentials:
        return InvalidCredentials(error.code, message, provider_code=error.code)
    if spec is not None:
        retryable = spec.retryable
    else:
        retryable = status >= 500 or status == 429 or error.type == "Receiver"
    if retryable:
        return RetryableError(
            error.code, message, retry_after=retry_after, provider_code=error.code
        )
    return PermanentError(error.code, message, provider_code=error.code)


def _from_status(status: int, retry_after: float | None) -> ProviderError:
    """No readable AWS error: decide by the HTTP status alone."""
    reason = f"HTTP {status} without a readable AWS error body"
    provider_code = f"http_{status}"
    if status == 429:
        return RetryableError(
            _E.RATE_LIMITED.value, reason, retry_after=retry_after, provider_code=provider_code
        )
    if status >= 500 or status == 408:
        return RetryableError(
            _E.PROVIDER_UNAVAILABLE.value,
            reason,
            retry_after=retry_after,
            provider_code=provider_code,
        )
    if status in (401, 403):
        return InvalidCredentials(_E.AUTH_FAILED.value, reason, provider_code=provider_code)
    return PermanentError(_E.PROVIDER_ERROR.value, reason, provider_code=provider_code)


def error_from_transport(exc: httpx.HTTPError) -> ProviderError:
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"SNS did not answer in time ({type(exc).__name__})")
    return RetryableError(_E.PROVIDER_UNAVAILABLE.value, f"SNS unreachable ({type(exc).__name__})")
