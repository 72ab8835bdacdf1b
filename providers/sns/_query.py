"""The SNS query API: the ``Publish`` form, SigV4 signing (botocore) and XML answers.

Request (``POST /``, ``application/x-www-form-urlencoded``)::

    Action=Publish&Version=2010-03-31&PhoneNumber=%2B5511...&Message=...
    &MessageAttributes.entry.1.Name=AWS.SNS.SMS.SMSType
    &MessageAttributes.entry.1.Value.DataType=String
    &MessageAttributes.entry.1.Value.StringValue=Transactional

Success::

    <PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
      <PublishResult><MessageId>...</MessageId></PublishResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
    </PublishResponse>

Failure::

    <ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
      <Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>...</Message></Error>
      <RequestId>...</RequestId>
    </ErrorResponse>
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple
from urllib.parse import urlencode
from xml.etree import ElementTree

from botocore.credentials import Credentials

from providers._aws import AwsKeys, sign_post, sign_request
from providers._aws import endpoint_url as aws_endpoint_url

__all__ = [
    "API_VERSION",
    "CONTENT_TYPE",
    "SERVICE",
    "SMS_ATTRIBUTES",
    "AwsError",
    "encode_form",
    "endpoint_url",
    "message_attributes",
    "parse_error",
    "parse_message_id",
    "publish_params",
    "sign",
    "signed",
]

API_VERSION = "2010-03-31"
SERVICE = "sns"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"

#: The SMS message attributes Herald sets (``MessageAttributes`` of ``Publish``).
SMS_ATTRIBUTES = ("AWS.SNS.SMS.SMSType", "AWS.SNS.SMS.SenderID", "AWS.MM.SMS.OriginationNumber")

Params = Sequence[tuple[str, str]]


def endpoint_url(template: str, region: str) -> str:
    """The endpoint for ``region`` (``{region}`` in ``SNS_ENDPOINT_URL`` is replaced), with ``/``."""
    return aws_endpoint_url(template, region) + "/"


def message_attributes(attributes: Mapping[str, str]) -> list[tuple[str, str]]:
    """String message attributes in the query API's ``MessageAttributes.entry.N`` form."""
    params: list[tuple[str, str]] = []
    for index, (name, value) in enumerate(attributes.items(), start=1):
        prefix = f"MessageAttributes.entry.{index}"
        params += [
            (f"{prefix}.Name", name),
            (f"{prefix}.Value.DataType", "String"),
            (f"{prefix}.Value.StringValue", value),
        ]
    return params


def publish_params(
    phone_number: str, message: str, attributes: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The ``Publish`` action's parameters for one SMS."""
    return [
        ("Action", "Publish"),
        ("Version", API_VERSION),
        ("PhoneNumber", phone_number),
        ("Message", message),
        *message_attributes(attributes),
    ]


def encode_form(params: Params) -> bytes:
    return urlencode(list(params)).encode("ascii")


def sign(
    url: str,
    body: bytes,
    *,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None,
    region: str,
) -> dict[str, str]:
    """The headers of a SigV4-signed ``POST`` of ``body`` to ``url`` (botocore's signer)."""
    credentials = Credentials(access_key_id, secret_access_key, session_token)
    headers = {"Content-Type": CONTENT_TYPE}
    return sign_request(
        "POST", url, body, headers, credentials=credentials, region=region, service=SERVICE
    )


def signed(url: str, body: bytes, keys: AwsKeys) -> dict[str, str]:
    """:func:`sign` with the integration's keys (``SNSCredentials``)."""
    return sign_post(url, body, CONTENT_TYPE, keys, service=SERVICE)


# --- answers ----------------------------------------------------------------------------


#: An AWS query API error: ``code`` and ``message``, the fault ``type`` (``Sender`` or
#: ``Receiver``) and the request id, each ``None`` when absent.
class AwsError(NamedTuple):
    code: str
    message: str
    type: str | None
    request_id: str | None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse_xml(body: bytes) -> ElementTree.Element | None:
    # No DTDs in AWS answers: refusing them keeps entity expansion out entirely.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None


def _text(root: ElementTree.Element, *path: str) -> str | None:
    """The stripped text of the element at ``path`` (local names), if any."""
    node: ElementTree.Element | None = root
    for name in path:
        node = (
            next((child for child in node if _local(child.tag) == name), None)
            if node is not None
            else None
        )
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


def parse_message_id(body: bytes) -> str | None:
    """``PublishResponse/PublishResult/MessageId``, or ``None`` when the body is not one."""
    root = _parse_xml(body)
    if root is None or _local(root.tag) != "PublishResponse":
        return None
    return _text(root, "PublishResult", "MessageId")


def parse_error(body: bytes) -> AwsError | None:
    """``ErrorResponse/Error`` (or a bare ``Error``), or ``None`` when the body is not one."""
    root = _parse_xml(body)
    if root is None:
        return None
    if _local(root.tag) == "ErrorResponse":
        error = next((child for child in root if _local(child.tag) == "Error"), None)
        request_id = _text(root, "RequestId")
    elif _local(root.tag) == "Error":
        error, request_id = root, _text(root, "RequestId")
    else:
        return None
    if error is None:
        return None
    code = _text(error, "Code")
    if code is None:
        return None
    return AwsError(
        code=code,
        message=_text(error, "Message") or code,
        type=_text(error, "Type"),
        request_id=request_id,
    )
