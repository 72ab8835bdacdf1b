"""The ``sns`` provider: Amazon SNS text messages (``Publish`` with ``PhoneNumber``).

Sending (:class:`SNSProvider`), the error table (:data:`SNS_ERRORS`) and the query-API
helpers the fake shares (form encoding, botocore SigV4 signing, XML answers).
"""

from __future__ import annotations

from providers.sns._credentials import SNSCredentials
from providers.sns._errors import SNS_ERRORS, error_from_response, error_from_transport
from providers.sns._provider import SNSProvider
from providers.sns._query import (
    API_VERSION,
    CONTENT_TYPE,
    SERVICE,
    SMS_ATTRIBUTES,
    AwsError,
    encode_form,
    endpoint_url,
    message_attributes,
    parse_error,
    parse_message_id,
    publish_params,
    sign,
)

__all__ = [
    "API_VERSION",
    "CONTENT_TYPE",
    "SERVICE",
    "SMS_ATTRIBUTES",
    "SNS_ERRORS",
    "AwsError",
    "SNSCredentials",
    "SNSProvider",
    "encode_form",
    "endpoint_url",
    "error_from_response",
    "error_from_transport",
    "message_attributes",
    "parse_error",
    "parse_message_id",
    "publish_params",
    "sign",
]
