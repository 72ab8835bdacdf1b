"""The rules the wire models check in validators are in their JSON Schema too.

A recipient needs at least one address; media needs exactly one source. pydantic checks
these in model validators, which JSON Schema does not see by itself: the models add them
(``anyOf``/``oneOf``), so that producers validating with the JSON Schema (the TypeScript
client's ajv, AsyncAPI tooling) refuse what the worker refuses. Each example here is fed
to a JSON Schema validator (``jsonschema``, draft 2020-12, as pydantic emits) and to the
model, and both must give the same verdict.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from schemas import NotificationRequest
from schemas.export import json_schemas

_REQUEST_SCHEMA = json_schemas()["NotificationRequest"]
_VALIDATOR = Draft202012Validator(_REQUEST_SCHEMA)


def _request(recipient: dict[str, Any]) -> dict[str, Any]:
    return {"id": "n-1", "tenantId": "acme", "channel": "whatsapp", "recipient": recipient}


def _with_media(media: dict[str, Any]) -> dict[str, Any]:
    request = _request({"phone": "+5511999990001"})
    request["content"] = {"media": media}
    return request


RECIPIENTS: list[tuple[dict[str, Any], bool]] = [
    ({}, False),  # no address at all
    ({"phone": None}, False),
    ({"phone": ""}, False),  # empty counts as absent
    ({"email": "", "userId": None}, False),
    ({"name": "Ana"}, False),  # only unknown fields
    ({"phone": "+5511999990001"}, True),
    ({"email": "ana@example.com"}, True),
    ({"deviceToken": "tok"}, True),
    ({"userId": "u1"}, True),
    ({"phone": "", "email": "ana@example.com"}, True),  # one non-empty is enough
    ({"phone": "+5511999990001", "userId": "u1"}, True),  # more than one is fine
]

MEDIA: list[tuple[dict[str, Any], bool]] = [
    ({}, False),  # no source
    ({"caption": "look"}, False),
    ({"url": ""}, False),
    ({"base64": None, "url": None}, False),
    ({"base64": "aGk=", "url": "https://example.com/a.png"}, False),  # two sources
    ({"url": "https://example.com/a.png"}, True),
    ({"base64": "aGk=", "filename": "a.txt"}, True),
    ({"base64": "", "url": "https://example.com/a.png"}, True),  # empty counts as absent
    ({"base64": "aGk=", "url": None}, True),
]


def _pydantic_accepts(document: dict[str, Any]) -> bool:
    try:
        NotificationRequest.model_validate(document)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("recipient", "valid"), RECIPIENTS)
def test_recipient_rule_agrees(recipient: dict[str, Any], valid: bool) -> None:
    document = _request(recipient)
    assert _VALIDATOR.is_valid(document) is valid
    assert _pydantic_accepts(document) is valid


@pytest.mark.parametrize(("media", "valid"), MEDIA)
def test_media_rule_agrees(media: dict[str, Any], valid: bool) -> None:
    document = _with_media(media)
    assert _VALIDATOR.is_valid(document) is valid
    assert _pydantic_accepts(document) is valid


def test_the_schema_names_the_rule_where_it_fails() -> None:
    """A producer reading the validator's error is pointed at the recipient itself."""
    errors = list(_VALIDATOR.iter_errors(_request({"phone": ""})))
    assert [list(e.absolute_path) for e in errors] == [["recipient"]]
    assert errors[0].validator == "anyOf"
    errors = list(_VALIDATOR.iter_errors(_with_media({"base64": "aGk=", "url": "https://x/a"})))
    assert [list(e.absolute_path) for e in errors] == [["content", "media"]]
    # (media is optional: ``anyOf`` [Media, null], and within it Media's ``oneOf`` failed)
    assert "oneOf" in {sub.validator for sub in errors[0].context or ()}


@pytest.mark.parametrize("name", sorted(json_schemas()))
def test_every_exported_schema_is_valid_json_schema(name: str) -> None:
    Draft202012Validator.check_schema(json_schemas()[name])
