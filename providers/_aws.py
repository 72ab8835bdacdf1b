"""What the AWS providers (SES, SNS) share: the regional endpoint and SigV4 signing.

Requests are signed with botocore's own signer (``SigV4Auth``), as the AWS SDKs do.
"""

from __future__ import annotations

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["endpoint_url", "sign_request"]


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
