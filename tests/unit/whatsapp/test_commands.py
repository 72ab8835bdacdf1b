"""Decoding ``whatsapp.commands`` records: a command, or a dead letter naming why not."""

from __future__ import annotations

import pytest

from schemas import DeadLetterReason
from schemas.whatsapp import CommandName, SessionCommand
from streams.pipeline.decode import DeadLetter, RawRecord
from streams.whatsapp import decode_command


def record(value: bytes | None) -> RawRecord:
    return RawRecord(key=b"acme", value=value, topic="whatsapp.commands", partition=1, offset=9)


def pairing_code(request_id: str) -> RawRecord:
    """acme's ``pairingCode`` command for phone 5511999990001, answered at ``request_id``."""
    return record(
        b'{"tenantId": "acme", "command": "pairingCode", "phone": "5511999990001",'
        b' "requestId": "%s"}' % request_id.encode()
    )


@pytest.mark.parametrize("command", [c for c in CommandName if c != CommandName.PAIRING_CODE])
def test_each_command_decodes(command: CommandName) -> None:
    decoded = decode_command(
        record(b'{"tenantId": "acme", "command": "%s"}' % command.value.encode())
    )
    assert isinstance(decoded, SessionCommand)
    assert (decoded.tenant_id, decoded.command) == ("acme", command)


def test_a_pairing_code_command_carries_the_phone_and_where_to_answer() -> None:
    decoded = decode_command(pairing_code("r-12345678"))
    assert isinstance(decoded, SessionCommand)
    assert (decoded.command, decoded.phone, decoded.request_id) == (
        CommandName.PAIRING_CODE,
        "5511999990001",
        "r-12345678",
    )


@pytest.mark.parametrize(
    "value",
    [
        b'{"tenantId": "acme", "command": "pairingCode"}',
        b'{"tenantId": "acme", "command": "pairingCode", "phone": "+55 11 99999-0001"}',
        b'{"tenantId": "acme", "command": "pairingCode", "phone": "0123456789"}',
    ],
)
def test_a_pairing_code_command_without_a_usable_phone_is_a_dead_letter(value: bytes) -> None:
    decoded = decode_command(record(value))
    assert isinstance(decoded, DeadLetter)
    assert decoded.info.reason == DeadLetterReason.INVALID_COMMAND
    assert "phone" in decoded.info.detail


def test_a_bad_request_id_is_named() -> None:
    decoded = decode_command(pairing_code("../x"))
    assert isinstance(decoded, DeadLetter)
    assert decoded.info.reason == DeadLetterReason.INVALID_COMMAND
    assert "requestId" in decoded.info.detail


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, DeadLetterReason.NOT_JSON),
        (b"\xff\xfe", DeadLetterReason.NOT_UTF8),
        (b"{nope", DeadLetterReason.NOT_JSON),
        (b"[1, 2]", DeadLetterReason.NOT_AN_OBJECT),
        (b'{"command": "connect"}', DeadLetterReason.MISSING_TENANT),
        (b'{"tenantId": "../etc", "command": "connect"}', DeadLetterReason.INVALID_TENANT),
        (b'{"tenantId": "acme", "command": "self-destruct"}', DeadLetterReason.INVALID_COMMAND),
        (b'{"tenantId": "acme"}', DeadLetterReason.INVALID_COMMAND),
        (
            b'{"tenantId": "acme", "command": "connect", "pad": "' + b"x" * 5000 + b'"}',
            DeadLetterReason.TOO_LARGE,
        ),
    ],
)
def test_undecodable_commands_are_dead_letters(
    value: bytes | None, reason: DeadLetterReason
) -> None:
    decoded = decode_command(record(value))
    assert isinstance(decoded, DeadLetter)
    assert decoded.info.reason == reason
    assert (decoded.info.topic, decoded.info.partition, decoded.info.offset) == (
        "whatsapp.commands",
        1,
        9,
    )
    assert decoded.record.value == value  # byte for byte
