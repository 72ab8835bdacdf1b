"""What the AWS providers (SES, SNS) share: the regional endpoint and SigV4 signing.

Requests are signed with botocore's own signer (``SigV4Auth``), as the AWS SDKs do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

if TYPE_CHECKING:
    from providers.ses._credentials import SESCredentials
    from providers.sns._credentials import SNSCredentials

__all__ = ["AwsKeys", "endpoint_url", "sign_post", "sign_request"]


#: The credentials of an AWS integration: a region and an access key (and STS token).
AwsKeys = Union["SESCredentials", "SNSCredentials"]


def endpoint_url(template: str, region: str) -> str:
    """An endpoint setting with ``{region}`` filled in, without a trailing slash."""
    return template.replace("{region}", region).rstrip("/")


def sign_request(
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    credentials: Credentials,
    region: str,
    service: str,
) -> dict[str, str]:
    """``headers`` plus the SigV4 ones (``Authorization``, ``X-Amz-Date``, token) from botocore."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials, service, region).add_auth(request)
    return {str(k): str(v) for k, v in request.headers.items()}


def sign_post(
    url: str, body: bytes, content_type: str, keys: AwsKeys, *, service: str
) -> dict[str, str]:
    """The headers of a SigV4-signed ``POST`` of ``body`` to ``url`` with ``keys``."""
    token = keys.session_token.get_secret_value() if keys.session_token else None
    credentials = Credentials(keys.access_key_id, keys.secret_access_key.get_secret_value(), token)
    return sign_request(
        "POST",
        url,
        body,
        {"Content-Type": content_type},
        credentials=credentials,
        region=keys.region,
        service=service,
    )
