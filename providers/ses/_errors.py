"""Amazon SES API v2 errors -> Herald's error tree, driven by one table.

SES v2 is a REST-JSON service: an error names its type in the ``x-amzn-ErrorType``
header (``MessageRejected:http://internal.amazon.com/...``) and/or the body's ``__type``
(``com.amazonaws.sesv2#MessageRejected``), with a human ``message``. The type name is what
goes to ``StatusEvent.error.code`` (e.g. ``MessageRejected``).

:data:`SES_ERRORS` lists ``SendEmail``'s modelled errors plus the errors common to every
AWS API (authentication, throttling, availability). An unlisted type falls back on the HTTP
status (5xx and 429 retryable, other 4xx permanent).

References: https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html and
https://docs.aws.amazon.com/ses/latest/APIReference-V2/CommonErrors.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import orjson

from providers.errors import (
    ErrorSpec,
    ServiceError,
    from_response,
    truncate,
)
from schemas.errors import ProviderError
from schemas.status import ErrorCode

__all__ = ["SES_ERRORS", "AwsError", "error_from_response", "parse_aws_error"]

_E = ErrorCode


SES_ERRORS: Mapping[str, ErrorSpec] = {
    # SendEmail's own errors
    "TooManyRequestsException": ErrorSpec.retry(_E.RATE_LIMITED, "429: sending rate exceeded"),
    "LimitExceededException": ErrorSpec.retry(_E.RATE_LIMITED, "400: sending quota exceeded"),
    "AccountSuspendedException": ErrorSpec.final(
        _E.PROVIDER_INACTIVE, "400: account's sending is suspended"
    ),
    "SendingPausedException": ErrorSpec.final(
        _E.PROVIDER_INACTIVE, "400: sending paused (account or set)"
    ),
    "MessageRejected": ErrorSpec.final(
        _E.INVALID_REQUEST, "400: invalid content, or an unverified sender or recipient identity"
    ),
    "MailFromDomainNotVerifiedException": ErrorSpec.final(
        _E.INVALID_CREDENTIALS, "400: the MAIL FROM domain is not verified"
    ),
    "NotFoundException": ErrorSpec.final(
        _E.PROVIDER_ERROR, "404: e.g. the configuration set does not exist"
    ),
    "BadRequestException": ErrorSpec.final(_E.INVALID_REQUEST, "400: the input is invalid"),
    # Common AWS errors: credentials and signing
    "UnrecognizedClientException": ErrorSpec.auth("403: unknown access key id", _E.AUTH_FAILED),
    "InvalidClientTokenId": ErrorSpec.auth("403: unknown access key id", _E.AUTH_FAILED),
    "InvalidSignatureException": ErrorSpec.auth("403: signature does not match", _E.AUTH_FAILED),
    "SignatureDoesNotMatch": ErrorSpec.auth("403: signature does not match", _E.AUTH_FAILED),
    "IncompleteSignature": ErrorSpec.auth("400: signature incomplete", _E.AUTH_FAILED),
    "IncompleteSignatureException": ErrorSpec.auth("400: signature incomplete", _E.AUTH_FAILED),
    "MissingAuthenticationToken": ErrorSpec.auth("403: request not signed", _E.AUTH_FAILED),
    "MissingAuthenticationTokenException": ErrorSpec.auth(
        "403: request not signed", _E.AUTH_FAILED
    ),
    "ExpiredToken": ErrorSpec.auth("403: session token expired", _E.INVALID_CREDENTIALS),
    "ExpiredTokenException": ErrorSpec.auth("403: session token expired", _E.INVALID_CREDENTIALS),
    "AccessDeniedException": ErrorSpec.auth(
        "403: not allowed to call ses:SendEmail", _E.AUTH_FAILED
    ),
    "AccessDenied": ErrorSpec.auth("403: not allowed to call ses:SendEmail", _E.AUTH_FAILED),
    "NotAuthorized": ErrorSpec.auth("403: not authorized", _E.AUTH_FAILED),
    "OptInRequired": ErrorSpec.auth("403: the account is not subscribed to SES", _E.AUTH_FAILED),
    # Common AWS errors: throttling and availability
    "ThrottlingException": ErrorSpec.retry(_E.RATE_LIMITED, "400/429: request rate exceeded"),
    "Throttling": ErrorSpec.retry(_E.RATE_LIMITED, "400: request rate exceeded"),
    "RequestLimitExceeded": ErrorSpec.retry(_E.RATE_LIMITED, "request rate exceeded"),
    "InternalFailure": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "500: internal failure"),
    "InternalServerError": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "500: internal error"),
    "ServiceUnavailable": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "503: temporarily unavailable"),
    "ServiceUnavailableException": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "503: unavailable"),
    "RequestTimeout": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "408: request timed out"),
    "RequestTimeoutException": ErrorSpec.retry(_E.PROVIDER_UNAVAILABLE, "408: request timed out"),
    # Common AWS errors: the request itself
    "ValidationException": ErrorSpec.final(_E.INVALID_REQUEST, "400: input fails a constraint"),
    "SerializationException": ErrorSpec.final(_E.INVALID_REQUEST, "400: body not readable"),
    "InvalidParameterValue": ErrorSpec.final(_E.INVALID_REQUEST, "400: invalid parameter"),
}


@dataclass(frozen=True, slots=True)
class AwsError:
    type: str
    message: str


def _type_name(raw: str) -> str:
    """``MessageRejected`` from ``MessageRejected:http://...`` or ``ns#MessageRejected``."""
    return raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()


def parse_aws_error(headers: httpx.Headers, body: bytes) -> AwsError | None:
    """The error type and message of a REST-JSON error, or ``None`` when neither is there."""
    data: object = None
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    fields = data if isinstance(data, dict) else {}
    raw_type = headers.get("x-amzn-errortype")
    if not raw_type:
        for key in ("__type", "code", "Code"):
            value = fields.get(key)
            if isinstance(value, str) and value:
                raw_type = value
                break
    if not raw_type or not _type_name(raw_type):
        return None
    message = fields.get("message", fields.get("Message"))
    return AwsError(
        type=_type_name(raw_type),
        message=message if isinstance(message, str) and message else _type_name(raw_type),
    )


def error_from_response(response: httpx.Response) -> ProviderError:
    """Translate a failed ``SendEmail`` response into the exception to raise."""
    aws = parse_aws_error(response.headers, response.content)
    if aws is None:
        code, message = (
            f"http_{response.status_code}",
            f"HTTP {response.status_code} without an AWS error",
        )
    else:
        code, message = aws.type, truncate(aws.message)
    spec = SES_ERRORS.get(aws.type) if aws is not None else None
    return from_response(response, ServiceError(code, message, spec), message)
