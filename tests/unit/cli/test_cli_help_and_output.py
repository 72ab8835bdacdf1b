"""The CLI's help texts (exit codes, every command, sandboxes and roles) and its output
formats (status lines, decoded records, the ids it has seen), without services."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from schemas import StatusEvent
from schemas.dlq import DeadLetterInfo, DeadLetterReason
from schemas.settings import Settings
from schemas.status import ErrorInfo, Status
from streams.cli.errors import EXIT_CODE_MEANINGS, ExitCode
from streams.cli.events import SeenIds, decode_record, status_line
from streams.cli.main import build_parser, main
from streams.cli.sandbox import SANDBOXES
from streams.platform.app import ROLES

NOW = datetime(2026, 12, 2, 9, 30, 0, tzinfo=UTC)


def test_exit_codes_are_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for code, meaning in EXIT_CODE_MEANINGS.items():
        assert f"  {code.value:<4} {meaning[:30]}" in out
    assert set(EXIT_CODE_MEANINGS) == set(ExitCode)


def _parsers(
    parser: argparse.ArgumentParser,
) -> Iterator[tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield parser, action
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_command_has_help() -> None:
    for _, action in _parsers(build_parser()):
        helped = {a.dest for a in action._choices_actions if a.help}
        assert helped == set(action.choices), f"commands without help: {set(action.choices)}"


def test_help_lists_every_sandbox_and_role(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    sandboxes = next(a for p, a in _parsers(parser) if p.prog == "herald sandbox")
    assert tuple(sandboxes.choices) == SANDBOXES
    with pytest.raises(SystemExit):
        main(["--help"])
    top = " ".join(capsys.readouterr().out.split())
    assert all(name in top for name in SANDBOXES)
    assert all(role in top for role in ROLES)


def _event(**changes: object) -> StatusEvent:
    values: dict[str, object] = {
        "notification_id": "n-1",
        "tenant_id": "acme",
        "channel": "sms",
        "provider": "twilio",
        "status": Status.SENT,
        "provider_message_id": "SM123",
        "attempt": 1,
        "timestamp": NOW,
    }
    values.update(changes)
    return StatusEvent.model_validate(values)


def test_status_lines() -> None:
    assert status_line(_event()) == (
        "2026-12-02T09:30:00.000Z  sent       acme  n-1  twilio  message id SM123"
    )
    failed = _event(
        status=Status.FAILED,
        provider_message_id=None,
        error=ErrorInfo(code="invalid_recipient", message="not a mobile number"),
    )
    assert status_line(failed).endswith("twilio  error invalid_recipient: not a mobile number")
    retrying = _event(
        status=Status.RETRYING,
        provider_message_id=None,
        next_attempt_at=datetime(2026, 12, 2, 9, 30, 5, tzinfo=UTC),
        error=ErrorInfo(code="rate_limited", message="429", retryable=True),
    )
    assert status_line(retrying).endswith(
        "error rate_limited: 429; attempt 2 at 2026-12-02T09:30:05.000Z"
    )
    rejected = _event(status=Status.REJECTED, provider=None, provider_message_id=None)
    assert status_line(rejected).endswith("acme  n-1  -")


def test_decode_records_of_each_kind() -> None:
    settings = Settings(_env_file=None)
    event = _event()
    decoded = decode_record(settings, settings.topic_status, b"acme", event.to_json(), [])
    assert (decoded.tenant_id, decoded.status, decoded.event_id) == ("acme", "sent", event.event_id)
    assert decoded.value["eventId"] == event.event_id

    info = DeadLetterInfo(
        reason=DeadLetterReason.NOT_JSON, detail="line 1", topic="t", partition=2, offset=7
    )
    letter = decode_record(settings, settings.topic_dlq, b"acme", b"\xff\x00", info.headers())
    assert letter.line == "dead letter  acme  not_json: line 1 (from t/2@7)"
    assert letter.value["value"] == "/wA="  # base64 of the undecodable bytes

    garbage = decode_record(settings, settings.topic_requests, b"acme", b"{not json", [])
    assert garbage.line == "undecodable  acme  9 bytes"


def test_seen_ids_forget_the_oldest() -> None:
    seen = SeenIds(size=2)
    firsts = [seen.first_time(i) for i in ("a", "b", "b", "c", "a", "c")]
    assert firsts == [True, True, False, True, True, False]  # "a" was dropped for "c"
