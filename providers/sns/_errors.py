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

from providers.errors import (
    ErrorSpec,
    ServiceError,
    from_response,
    from_transport,
    truncate,
)
from providers.sns._query import parse_error
from schemas.errors import ProviderError
from schemas.status import ErrorCode

__all__ = ["SNS_ERRORS", "error_from_response", "error_from_transport"]

_E = ErrorCode

#: AWS error codes -> retryability and meaning.
SNS_ERRORS: Mapping[str, ErrorSpec] = {
    # Authentication and authorization (the integration's keys or IAM policy)
    "InvalidClientTokenId": ErrorSpec.auth("The access key id does not exist"),
    "SignatureDoesNotMatch": ErrorSpec.auth(
        "The signature does not match: wrong secret access key"
    ),
    "IncompleteSignature": ErrorSpec.auth("The request signature is incomplete"),
    "MissingAuthenticationToken": ErrorSpec.auth("The request is not signed"),
    "ExpiredToken": ErrorSpec.auth("The session token has expired"),
    "UnrecognizedClientException": ErrorSpec.auth("The security token is invalid"),
    "InvalidSecurity": ErrorSpec.auth("The credential signature is not valid"),
    "AuthorizationError": ErrorSpec.auth("IAM denies sns:Publish for these credentials"),
    "AccessDenied": ErrorSpec.auth("Access denied"),
    "AccessDeniedException": ErrorSpec.auth("Access denied"),
    "OptInRequired": ErrorSpec.auth("The account is not subscribed to SNS"),
    # Throttling and availability
    "Throttling": ErrorSpec.retry(_E.RATE_LIMITED, "Rate exceeded"),
    "ThrottlingException": ErrorSpec.retry(_E.RATE_LIMITED, "Rate exceeded"),
    "Throttled": ErrorSpec.retry(_E.RATE_LIMITED, "Request rate for this action exceeded"),
    "KMSThrottling": ErrorSpec.retry(_E.RATE_LIMITED, "KMS throttled the request"),
    "InternalError": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "Internal service error"),
    "InternalFailure": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "Internal failure"),
    "ServiceUnavailable": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "Service unavailable"),
    # The request or its recipient
    "InvalidParameter": ErrorSpec.final(_E.INVALID_REQUEST, "A request parameter is not valid"),
    "ParameterValueInvalid": ErrorSpec.final(
        _E.INVALID_REQUEST, "A request parameter value is not valid"
    ),
    "ValidationError": ErrorSpec.final(
        _E.INVALID_REQUEST, "The input fails to satisfy the constraints"
    ),
    "ValidationException": ErrorSpec.final(
        _E.INVALID_REQUEST, "A parameter in the request is invalid"
    ),
    "MissingParameter": ErrorSpec.final(_E.INVALID_REQUEST, "A required parameter is missing"),
    "InvalidAction": ErrorSpec.final(_E.INVALID_REQUEST, "The action is not valid"),
    "OptedOut": ErrorSpec.final(_E.INVALID_RECIPIENT, "The phone number opted out of SMS"),
    "EndpointDisabled": ErrorSpec.final(_E.INVALID_RECIPIENT, "The endpoint is disabled"),
    "NotFound": ErrorSpec.final(_E.PROVIDER_ERROR, "The requested resource does not exist"),
    "RequestExpired": ErrorSpec.final(
        _E.PROVIDER_ERROR, "Request expired: check this host's clock"
    ),
    "KMSAccessDenied": ErrorSpec.final(_E.PROVIDER_INACTIVE, "KMS access denied"),
    "KMSDisabled": ErrorSpec.final(_E.PROVIDER_INACTIVE, "The KMS key is disabled"),
    "KMSInvalidState": ErrorSpec.final(_E.PROVIDER_INACTIVE, "The KMS key is in an invalid state"),
    "KMSNotFound": ErrorSpec.final(_E.PROVIDER_INACTIVE, "The KMS key was not found"),
}


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a non-2xx SNS response into the exception to raise.

    A code without a table entry is retryable on 429, 5xx and ``Receiver`` faults.
    """
    status = response.status_code
    aws = parse_error(response.content)
    if aws is None:
        return from_response(response, None, f"HTTP {status} without a readable AWS error body")
    transient = status >= 500 or status == 429 or aws.type == "Receiver"
    spec = SNS_ERRORS.get(aws.code)
    found = ServiceError(aws.code, truncate(aws.message), spec, (), transient)
    return from_response(response, found, "")


def error_from_transport(exc: httpx.HTTPError) -> ProviderError:
    return from_transport(exc, "SNS")
