"""The ``ses`` provider: Amazon SES API v2 ``SendEmail`` with SigV4 signing (botocore).

SES has no delivery webhook of its own (deliveries are published to SNS or EventBridge),
so an SES notification's last status in this release is ``sent``.
"""

from __future__ import annotations

from providers.ses._credentials import SESCredentials
from providers.ses._errors import SES_ERRORS, AwsError, error_from_response, parse_aws_error
from providers.ses._provider import (
    SEND_EMAIL_PATH,
    SIGNING_NAME,
    SESProvider,
    endpoint_url,
    sign_request,
)

__all__ = [
    "SEND_EMAIL_PATH",
    "SES_ERRORS",
    "SIGNING_NAME",
    "AwsError",
    "SESCredentials",
    "SESProvider",
    "endpoint_url",
    "error_from_response",
    "parse_aws_error",
    "sign_request",
]
