"""SNS and SES error classification against examples from AWS's public documentation.

Independent of the providers' tables (``SNS_ERRORS``, ``SES_ERRORS``): every example below
is written from the services' documentation -- the error code as it travels, its HTTP
status, and what the documentation says it means -- and the expected outcome follows from
that meaning (a throttle or a server fault is retried; refused credentials are a
credentials problem; anything about the request, the recipient or the account is
permanent). Two further independent readers check each example:

* botocore's response parsers (the AWS SDK's own) read the same error code from the body
  and headers we build, so the wire shapes are what AWS sends;
* botocore's standard retry mode (its throttling and transient checkers) agrees with us
  wherever it deems an error retryable.

Sources:
- SNS Publish errors: https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors
  (wire codes as in the SNS service model, e.g. InvalidParameterValue is sent as
  ``ParameterValueInvalid``); ThrottledException: API_Subscribe.html and others (429).
- AWS common errors (query and JSON APIs):
  https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html and
  https://docs.aws.amazon.com/ses/latest/APIReference-V2/CommonErrors.html
- Query API error body (``<ErrorResponse><Error><Type/><Code/><Message/></Error>``):
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-responses.html
- SES v2 SendEmail errors: https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html#API_SendEmail_Errors
- SES sending quota errors (ThrottlingException "Maximum sending rate exceeded", retry
  later): https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas-errors.html
- A 429 ``{"message":"Maximum sending rate exceeded."}`` (TooManyRequestsException) as
  reported from SES v2 by AWS SDK users (github.com/pm-pmaas/etailors_amazon_ses issue 117).
"""

from __future__ import annotations

from typing import Literal

import httpx
import pytest
from botocore.awsrequest import AWSResponse
from botocore.parsers import QueryParser, RestJSONParser
from botocore.retries.standard import (
    RetryContext,
    ThrottledRetryableChecker,
    TransientRetryableChecker,
)

from providers import InvalidCredentials, PermanentError, ProviderError, RetryableError
from providers.ses import error_from_response as ses_error
from providers.sns import error_from_response as sns_error

Outcome = Literal["retry", "credentials", "permanent"]

# (wire code, HTTP status, what the documentation says, expected outcome)
SNS_DOCUMENTED: list[tuple[str, int, str, Outcome]] = [
    # Publish's own errors
    ("AuthorizationError", 403, "the user has been denied access", "credentials"),
    ("EndpointDisabled", 400, "endpoint disabled", "permanent"),
    ("InternalError", 500, "an internal service error", "retry"),
    ("InvalidParameter", 400, "a parameter does not comply with the constraints", "permanent"),
    ("ParameterValueInvalid", 400, "a parameter value does not comply", "permanent"),
    ("InvalidSecurity", 403, "the credential signature isn't valid", "credentials"),
    ("KMSAccessDenied", 400, "a KMS key that doesn't exist or can't be used", "permanent"),
    ("KMSDisabled", 400, "the KMS key isn't enabled", "permanent"),
    ("KMSInvalidState", 400, "the KMS key's state isn't valid", "permanent"),
    ("KMSNotFound", 400, "the KMS key can't be found", "permanent"),
    ("KMSOptInRequired", 403, "the access key needs a KMS subscription", "permanent"),
    ("KMSThrottling", 400, "denied due to request throttling (KMS)", "retry"),
    ("NotFound", 404, "the requested resource does not exist", "permanent"),
    ("PlatformApplicationDisabled", 400, "platform application disabled", "permanent"),
    ("ValidationException", 400, "a parameter is invalid", "permanent"),
    ("Throttled", 429, "the request rate exceeds the account's limit", "retry"),
    # Common errors
    ("IncompleteSignature", 400, "the signature does not conform to AWS standards", "credentials"),
    ("InternalFailure", 500, "unknown error, exception or failure", "retry"),
    ("InvalidAction", 400, "the action is invalid", "permanent"),
    ("InvalidClientTokenId", 403, "the access key id is not in AWS's records", "credentials"),
    ("MissingAuthenticationToken", 403, "no valid access key id or certificate", "credentials"),
    ("OptInRequired", 403, "the access key needs a subscription", "permanent"),
    ("RequestExpired", 400, "the request's date stamp is over 15 minutes off", "permanent"),
    ("ServiceUnavailable", 503, "a temporary failure of the server", "retry"),
    ("ThrottlingException", 400, "denied due to request throttling", "retry"),
    ("ValidationError", 400, "the input fails the constraints", "permanent"),
    ("MalformedQueryString", 404, "the query string contains a syntax error", "permanent"),
]

SES_DOCUMENTED: list[tuple[str, int, str, Outcome]] = [
    # SendEmail's own errors
    ("AccountSuspendedException", 400, "sending permanently restricted", "permanent"),
    ("BadRequestException", 400, "the input is invalid", "permanent"),
    ("MailFromDomainNotVerifiedException", 400, "the sending domain isn't verified", "permanent"),
    ("MessageRejected", 400, "the message contains invalid content", "permanent"),
    ("NotFoundException", 404, "the resource doesn't exist", "permanent"),
    ("SendingPausedException", 400, "the account's sending is paused", "permanent"),
    ("TooManyRequestsException", 429, "too many requests to the operation", "retry"),
    # Common errors
    ("AccessDeniedException", 400, "not sufficient access for this action", "credentials"),
    ("IncompleteSignature", 400, "the signature does not conform to AWS standards", "credentials"),
    ("InternalFailure", 500, "unknown error, exception or failure", "retry"),
    ("InvalidAction", 400, "the action is invalid", "permanent"),
    ("InvalidClientTokenId", 403, "the access key id is not in AWS's records", "credentials"),
    ("NotAuthorized", 400, "no permission to perform this action", "permanent"),
    ("OptInRequired", 403, "the access key needs a subscription", "permanent"),
    ("RequestExpired", 400, "the request's date stamp is over 15 minutes off", "permanent"),
    ("ServiceUnavailable", 503, "a temporary failure of the server", "retry"),
    ("ThrottlingException", 400, "Maximum sending rate exceeded: retry later", "retry"),
    ("ValidationError", 400, "the input fails the constraints", "permanent"),
]


def _check(error: ProviderError, code: str, outcome: Outcome) -> None:
    assert error.code == code  # the AWS code itself reaches StatusEvent.error.code
    if outcome == "retry":
        assert isinstance(error, RetryableError)
    else:
        assert isinstance(error, PermanentError)
        assert not error.retryable
    if outcome == "credentials":
        assert isinstance(error, InvalidCredentials)


def _botocore_retries(code: str, status: int) -> bool:
    """Would botocore's standard retry mode retry this error?"""
    context = RetryContext(
        attempt_number=1,
        parsed_response={"Error": {"Code": code}},
        http_response=AWSResponse("https://aws.test/", status, {}, None),
    )
    checkers = (ThrottledRetryableChecker(), TransientRetryableChecker())
    return any(checker.is_retryable(context) for checker in checkers)


def _query_error(code: str, status: int) -> bytes:
    kind = "Receiver" if status >= 500 else "Sender"
    return (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>documented</Message></Error>"
        "<RequestId>42d59b56-7407-4c4a-be0f-4c88daeea257</RequestId></ErrorResponse>"
    ).encode()


@pytest.mark.parametrize(("code", "status", "meaning", "outcome"), SNS_DOCUMENTED)
def test_sns_documented_errors(code: str, status: int, meaning: str, outcome: Outcome) -> None:
    body = _query_error(code, status)
    parsed = QueryParser().parse({"body": body, "headers": {}, "status_code": status}, None)
    assert parsed["Error"]["Code"] == code  # the shape the AWS SDK reads
    error = sns_error(httpx.Response(status, content=body))
    _check(error, code, outcome)
    if _botocore_retries(code, status):
        assert isinstance(error, RetryableError), meaning


_SES_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sesv2/"


def _rest_json_errors(code: str) -> list[tuple[dict[str, str], bytes]]:
    """The ways a REST-JSON error names its type: the header, or ``__type`` in the body."""
    return [
        ({"x-amzn-ErrorType": f"{code}:{_SES_NAMESPACE}"}, b'{"message":"documented"}'),
        ({}, f'{{"__type":"com.amazonaws.sesv2#{code}","message":"documented"}}'.encode()),
    ]


@pytest.mark.parametrize(("code", "status", "meaning", "outcome"), SES_DOCUMENTED)
def test_ses_documented_errors(code: str, status: int, meaning: str, outcome: Outcome) -> None:
    for headers, body in _rest_json_errors(code):
        lowered = {k.lower(): v for k, v in headers.items()}
        parsed = RestJSONParser().parse(
            {"body": body, "headers": lowered, "status_code": status}, None
        )
        assert parsed["Error"]["Code"] == code  # the shape the AWS SDK reads
        error = ses_error(httpx.Response(status, headers=headers, content=body))
        _check(error, code, outcome)
        assert error.message == "documented"
        if _botocore_retries(code, status):
            assert isinstance(error, RetryableError), meaning


def test_ses_v2_rate_limit_as_sdk_users_report_it() -> None:
    """A 429 whose body has only the message; the type is in the header."""
    response = httpx.Response(
        429,
        headers={"x-amzn-ErrorType": f"TooManyRequestsException:{_SES_NAMESPACE}"},
        content=b'{"message":"Maximum sending rate exceeded."}',
    )
    error = ses_error(response)
    assert isinstance(error, RetryableError)
    assert error.code == "TooManyRequestsException"
    assert error.message == "Maximum sending rate exceeded."


def test_sns_throttling_with_a_retry_after_is_retried_after_it() -> None:
    response = httpx.Response(
        400, headers={"Retry-After": "7"}, content=_query_error("ThrottlingException", 400)
    )
    error = sns_error(response)
    assert isinstance(error, RetryableError)
    assert error.retry_after == 7
