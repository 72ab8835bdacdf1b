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

from providers._email import ErrorSpec, exception_for, retry_after_seconds, truncate
from schemas.errors import ProviderError
from schemas.status import ErrorCode

__all__ = ["SES_ERRORS", "AwsError", "error_from_response", "parse_aws_error"]

_E = ErrorCode


def _final(category: ErrorCode, description: str) -> ErrorSpec:
    return ErrorSpec(False, category, description)


def _retry(category: ErrorCode, description: str) -> ErrorSpec:
    return ErrorSpec(True, category, description)


def _auth(category: ErrorCode, description: str) -> ErrorSpec:
    return ErrorSpec(False, category, description, credentials=True)


SES_ERRORS: Mapping[str, ErrorSpec] = {
    # SendEmail's own errors
    "TooManyRequestsException": _retry(_E.RATE_LIMITED, "429: sending rate exceeded"),
    "LimitExceededException": _retry(_E.RATE_LIMITED, "400: sending quota exceeded"),
    "AccountSuspendedException": _final(
        _E.PROVIDER_INACTIVE, "400: account's sending is suspended"
    ),
    "SendingPausedException": _final(_E.PROVIDER_INACTIVE, "400: sending paused (account or set)"),
    "MessageRejected": _final(
        _E.INVALID_REQUEST, "400: invalid content, or an unverified sender or recipient identity"
    ),
    "MailFromDomainNotVerifiedException": _final(
        _E.INVALID_CREDENTIALS, "400: the MAIL FROM domain is not verified"
    ),
    "NotFoundException": _final(
        _E.PROVIDER_ERROR, "404: e.g. the configuration set does not exist"
    ),
    "BadRequestException": _final(_E.INVALID_REQUEST, "400: the input is invalid"),
    # Common AWS errors: credentials and signing
    "UnrecognizedClientException": _auth(_E.AUTH_FAILED, "403: unknown access key id"),
    "InvalidClientTokenId": _auth(_E.AUTH_FAILED, "403: unknown access key id"),
    "InvalidSignatureException": _auth(_E.AUTH_FAILED, "403: signature does not match"),
    "SignatureDoesNotMatch": _auth(_E.AUTH_FAILED, "403: signature does not match"),
    "IncompleteSignature": _auth(_E.AUTH_FAILED, "400: signature incomplete"),
    "IncompleteSignatureException": _auth(_E.AUTH_FAILED, "400: signature incomplete"),
    "MissingAuthenticationToken": _auth(_E.AUTH_FAILED, "403: request not signed"),
    "MissingAuthenticationTokenException": _auth(_E.AUTH_FAILED, "403: request not signed"),
    "ExpiredToken": _auth(_E.INVALID_CREDENTIALS, "403: session token expired"),
    "ExpiredTokenException": _auth(_E.INVALID_CREDENTIALS, "403: session token expired"),
    "AccessDeniedException": _auth(_E.AUTH_FAILED, "403: not allowed to call ses:SendEmail"),
    "AccessDenied": _auth(_E.AUTH_FAILED, "403: not allowed to call ses:SendEmail"),
    "NotAuthorized": _auth(_E.AUTH_FAILED, "403: not authorized"),
    "OptInRequired": _auth(_E.AUTH_FAILED, "403: the account is not subscribed to SES"),
    # Common AWS errors: throttling and availability
    "ThrottlingException": _retry(_E.RATE_LIMITED, "400/429: request rate exceeded"),
    "Throttling": _retry(_E.RATE_LIMITED, "400: request rate exceeded"),
    "RequestLimitExceeded": _retry(_E.RATE_LIMITED, "request rate exceeded"),
    "InternalFailure": _retry(_E.PROVIDER_UNAVAILABLE, "500: internal failure"),
    "InternalServerError": _retry(_E.PROVIDER_UNAVAILABLE, "500: internal error"),
    "ServiceUnavailable": _retry(_E.PROVIDER_UNAVAILABLE, "503: temporarily unavailable"),
    "ServiceUnavailableException": _retry(_E.PROVIDER_UNAVAILABLE, "503: unavailable"),
    "RequestTimeout": _retry(_E.PROVIDER_UNAVAILABLE, "408: request timed out"),
    "RequestTimeoutException": _retry(_E.PROVIDER_UNAVAILABLE, "408: request timed out"),
    # Common AWS errors: the request itself
    "ValidationException": _final(_E.INVALID_REQUEST, "400: input fails a constraint"),
    "SerializationException": _final(_E.INVALID_REQUEST, "400: body not readable"),
    "InvalidParameterValue": _final(_E.INVALID_REQUEST, "400: invalid parameter"),
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
    status = response.status_code
    retry_after = retry_after_seconds(response.headers)
    aws = parse_aws_error(response.headers, response.content)
    spec = SES_ERRORS.get(aws.type) if aws is not None else None
    if aws is not None and spec is not None:
        return exception_for(spec, aws.type, truncate(aws.message), retry_after=retry_after)
    code = aws.type if aws is not None else f"http_{status}"
    message = truncate(aws.message) if aws is not None else f"HTTP {status} without an AWS error"
    if status == 429:
        fallback = _retry(_E.RATE_LIMITED, "throttled")
    elif status >= 500:
        fallback = _retry(_E.PROVIDER_UNAVAILABLE, "server error")
    elif status in (401, 403):
        fallback = _auth(_E.AUTH_FAILED, "refused")
    else:
        fallback = _final(_E.PROVIDER_ERROR, "refused")
    return exception_for(fallback, code, message, retry_after=retry_after)
