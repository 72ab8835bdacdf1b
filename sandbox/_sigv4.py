"""Checking AWS Signature Version 4 as AWS does, for the fakes of AWS query APIs.

The signature is recomputed with botocore's own signer (canonical request, string to
sign, signing key) from what was received and the secret the fake knows for the access
key id, then compared in constant time. Refusals use AWS's error codes and messages
(``MissingAuthenticationToken``, ``IncompleteSignature``, ``InvalidClientTokenId``,
``SignatureDoesNotMatch``).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["AwsKey", "SigV4Error", "verify_sigv4"]

_ALGORITHM = "AWS4-HMAC-SHA256"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_MAX_SKEW = timedelta(minutes=15)
_PART = re.compile(r"\s*([A-Za-z]+)=([^,\s]*)\s*")


class SigV4Error(Exception):
    """The request is not authenticated: answer ``http_status`` with AWS ``code``."""

    def __init__(self, code: str, message: str, http_status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


@dataclass(frozen=True, slots=True)
class AwsKey:
    """What AWS knows of an access key id."""

    secret_access_key: str
    session_token: str | None = None


def _invalid_token() -> SigV4Error:
    return SigV4Error(
        "InvalidClientTokenId", "The security token included in the request is invalid."
    )


def _mismatch(message: str | None = None) -> SigV4Error:
    return SigV4Error(
        "SignatureDoesNotMatch",
        message
        or "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details.",
    )


def _parse_authorization(header: str) -> tuple[list[str], list[str], str]:
    """(credential scope parts, signed header names, signature) of an Authorization header."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != _ALGORITHM:
        raise SigV4Error("IncompleteSignature", f"Unsupported AWS 'algorithm': '{algorithm}'", 400)
    parts: dict[str, str] = {}
    for item in rest.split(","):
        match = _PART.fullmatch(item)
        if match:
            parts[match.group(1)] = match.group(2)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not parts.get(name)]
    if missing:
        raise SigV4Error(
            "IncompleteSignature",
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing),
            400,
        )
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SigV4Error(
            "IncompleteSignature",
            "Credential should be of the form '<access key>/<date>/<region>/<service>/aws4_request'.",
            400,
        )
    return scope, parts["SignedHeaders"].lower().split(";"), parts["Signature"].lower()


def verify_sigv4(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, AwsKey],
    region: str,
    service: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> str:
    """The access key id that signed the request; :class:`SigV4Error` otherwise."""
    lower = {name.lower(): value for name, value in headers.items()}
    header = lower.get("authorization")
    if not header:
        raise SigV4Error(
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        )
    scope, signed, signature = _parse_authorization(header)
    access_key, date, scope_region, scope_service, _ = scope
    key = keys.get(access_key)
    if key is None:
        raise _invalid_token()
    if key.session_token is not None and lower.get("x-amz-security-token") != key.session_token:
        raise _invalid_token()
    if scope_region != region:
        raise _mismatch(f"Credential should be scoped to a valid region, not '{scope_region}'. ")
    if scope_service != service:
        raise _mismatch(f"Credential should be scoped to correct service: '{service}'. ")
    if "host" not in signed:
        raise _mismatch("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    amz_date = lower.get("x-amz-date", "")
    try:
        stamp = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError as exc:
        raise SigV4Error(
            "IncompleteSignature",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            400,
        ) from exc
    if not amz_date.startswith(date):
        raise _mismatch(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    current = now()
    if abs(current - stamp) > _MAX_SKEW:
        limit = (current - _MAX_SKEW).strftime(_AMZ_DATE)
        raise _mismatch(
            f"Signature expired: {amz_date} is now earlier than {limit} "
            f"({current.strftime(_AMZ_DATE)} - 15 min.)"
        )
    missing = [name for name in signed if name not in lower]
    if missing:
        raise _mismatch()
    request = AWSRequest(
        method=method, url=url, data=body, headers={name: lower[name] for name in signed}
    )
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(
        Credentials(access_key, key.secret_access_key, key.session_token), service, region
    )
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise _mismatch()
    return access_key
