"""The sns provider's payload, without its fake: the Publish form (as botocore serializes
it), the endpoint, XML answers, validation and credentials."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import botocore.session
import httpx
import pytest
from botocore.serialize import create_serializer
from pydantic import ValidationError

from providers import InvalidRequest
from providers.sns import SNSProvider, encode_form, endpoint_url, parse_error, parse_message_id
from providers.sns._credentials import SNSCredentials
from tests.helpers import make_settings
from tests.unit.providers.sms_common import RECIPIENT, RECIPIENT_E164, TEXT, make_request
from tests.unit.providers.test_sns import (
    ACCESS_KEY,
    DOC_PUBLISH,
    REGION,
    SECRET,
    aws_error,
    credentials,
)

# --- the Publish form, endpoints and answers ------------------------------------------------


def test_the_form_is_what_botocores_query_serializer_produces() -> None:
    provider = SNSProvider(
        credentials(sender_id="Herald"), http=httpx.AsyncClient(), settings=make_settings()
    )
    ours = provider.format_payload(make_request(TEXT))
    model = botocore.session.get_session().get_service_model("sns").operation_model("Publish")
    theirs = create_serializer("query").serialize_to_request(
        {
            "PhoneNumber": RECIPIENT_E164,
            "Message": "Your code is 123456",
            "MessageAttributes": {
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "Herald"},
            },
        },
        model,
    )
    assert sorted(ours) == sorted(theirs["body"].items())
    assert sorted(parse_qsl(encode_form(ours).decode())) == sorted(theirs["body"].items())


def test_the_endpoint_is_region_templated() -> None:
    assert endpoint_url("https://sns.{region}.amazonaws.com", "eu-west-1") == (
        "https://sns.eu-west-1.amazonaws.com/"
    )
    assert endpoint_url("http://127.0.0.1:4566/", "us-east-1") == "http://127.0.0.1:4566/"
    provider = SNSProvider(
        credentials(region="ap-southeast-2"), http=httpx.AsyncClient(), settings=make_settings()
    )
    assert provider.endpoint() == "https://sns.ap-southeast-2.amazonaws.com/"


def test_xml_answers_are_read() -> None:
    assert parse_message_id(DOC_PUBLISH) == "567910cd-659e-55d4-8ccb-5aaf14679dc0"
    error = parse_error(aws_error("Throttling", "Rate exceeded"))
    assert error is not None
    assert (error.code, error.message, error.type, error.request_id) == (
        "Throttling",
        "Rate exceeded",
        "Sender",
        "42",
    )
    for garbage in (
        b"",
        b"{}",
        b"<html/>",
        DOC_PUBLISH[:40],
        b'<!DOCTYPE x [<!ENTITY a "b">]><x/>',
    ):
        assert parse_message_id(garbage) is None
        assert parse_error(garbage) is None
    assert parse_message_id(aws_error("X")) is None


# --- validate and credentials ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "content", "code"),
    [
        ("123", TEXT, "invalid_recipient"),
        (None, TEXT, "invalid_recipient"),
        (RECIPIENT, {}, "unsupported_content"),
        (RECIPIENT, {"body": "x", "contact": {"contactId": "1"}}, "unsupported_content"),
        (RECIPIENT, {"body": "x" * 1601}, "invalid_request"),
    ],
)
def test_validate_rejects(phone: str | None, content: dict[str, Any], code: str) -> None:
    provider = SNSProvider(credentials(), http=httpx.AsyncClient(), settings=make_settings())
    with pytest.raises(InvalidRequest) as caught:
        provider.validate(make_request(content, phone=phone))
    assert caught.value.code == code


@pytest.mark.parametrize(
    "overrides",
    [
        {"region": "useast1"},
        {"region": "US-EAST-1"},
        {"access_key_id": "akiaheraldtest000001"},
        {"access_key_id": "AKIA"},
        {"secret_access_key": ""},
        {"sms_type": "Marketing"},
        {"sender_id": "123456"},
        {"sender_id": "TooLongSender1"},
    ],
)
def test_credentials_are_validated(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        credentials(**overrides)


def test_credentials_defaults_follow_the_seed() -> None:
    creds = SNSCredentials.model_validate(
        {
            "providerType": "sns",
            "region": REGION,
            "accessKeyId": ACCESS_KEY,
            "secretAccessKey": SECRET,
            "fromPhone": "",
        }
    )
    assert creds.sms_type == "Transactional"
    assert creds.from_phone is None
    assert SNSProvider.required_credentials() == ["region", "accessKeyId", "secretAccessKey"]
    assert SECRET not in repr(creds)
