"""The CLI's error handling and exit codes, without services (help texts and output
formats: test_cli_help_and_output.py).

"Nothing running" is a free loopback port: connection refused at once, so the failure
cases are fast with ``--broker-wait 0``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import socket
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError

from schemas.settings import Settings
from streams.cli.doctor._model import Check, Outcome, render
from streams.cli.doctor._whatsapp import bundle_version, check_wajs
from streams.cli.errors import CommandError, ExitCode, ServiceUnavailable, report, translate
from streams.cli.main import _until_terminated, build_parser, main
from streams.cli.reference import render_cli_reference
from streams.platform.admin import BrokerUnavailable
from streams.platform.embedded import find_free_port
from streams.tenancy.crypto import MissingSecretKey
from tests.unit.cli.harness import run as herald


@pytest.fixture(autouse=True)
def nothing_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kafka and Redis pointed at closed ports; no ``DATABASE_URL`` (``.env``, logging: conftest)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{find_free_port()}")
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{find_free_port()}/0")


def test_report_is_one_line_and_a_hint() -> None:
    stream = io.StringIO()
    code = report(ServiceUnavailable("Kafka at k:9092 did not answer", "start it"), stream)
    assert code == ExitCode.UNAVAILABLE == 3
    assert stream.getvalue() == "herald: error: Kafka at k:9092 did not answer\n  hint: start it\n"


class _Model(BaseModel):
    port: int


def _validation_error() -> ValidationError:
    try:
        _Model.model_validate({"port": "secret-value"})
    except ValidationError as exc:
        return exc
    raise AssertionError("not reached")


@pytest.mark.parametrize(
    ("error", "code", "says"),
    [
        (RedisConnectionError("refused"), ExitCode.UNAVAILABLE, "cannot reach Redis at redis://"),
        (BrokerUnavailable("Kafka at k:1 did not answer"), ExitCode.UNAVAILABLE, "k:1"),
        (MissingSecretKey(), ExitCode.USAGE, "HERALD_SECRET_KEY is not set"),
        (_validation_error(), ExitCode.FAILED, "port: Input should be a valid integer"),
        (FileNotFoundError(2, "No such file or directory", "/x/y.json"), ExitCode.FAILED, "/x/y"),
    ],
)
def test_expected_errors_are_translated(error: Exception, code: ExitCode, says: str) -> None:
    translated = translate(error, redis_url="redis://:pw@h:1/0", database_url="sqlite://")
    assert translated is not None
    assert translated.code == code
    assert says in translated.message
    assert "secret-value" not in translated.message
    assert "pw" not in translated.message


def test_a_bug_is_not_translated() -> None:
    assert translate(RuntimeError("boom"), redis_url="r", database_url="d") is None


def test_a_bug_keeps_its_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr("streams.cli.keygen.generate_key", broken)
    code, _, err = herald(capsys, "keygen")
    assert code == ExitCode.INTERNAL == 70
    assert "Traceback" in err
    assert "RuntimeError: boom" in err
    assert err.rstrip().splitlines()[-1].startswith("herald: internal error: RuntimeError")


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_traceback_only_with_debug(capsys: pytest.CaptureFixture[str], debug: list[str]) -> None:
    code, _, err = herald(capsys, "status", "--tenant", "acme", "--id", "n1", *debug)
    assert code == ExitCode.UNAVAILABLE
    assert "herald: error: cannot reach Redis at redis://127.0.0.1:" in err
    assert ("Traceback" in err) == bool(debug)
    if not debug:
        assert len(err.strip().splitlines()) == 2


def test_log_level_debug_shows_the_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")
    code, _, err = herald(capsys, "policy", "show", "--tenant", "acme")
    assert code == ExitCode.UNAVAILABLE
    assert "Traceback" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--metadata", "{nope"], "--metadata is not valid JSON"),
        (["--metadata", "[1]"], "--metadata must be a JSON object"),
        (["--media-url", "x", "--media-file", "/nonexistent/a.png"], "cannot read --media-file"),
    ],
)
def test_send_refuses_bad_input_before_kafka(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    code, out, err = herald(capsys, "send", "--tenant", "acme", "--to", "+15550001", *argv)
    assert code == ExitCode.FAILED
    assert says in err
    assert "Traceback" not in err
    assert out == ""


def test_send_names_the_known_providers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["send", "--tenant", "acme", "--to", "+1555", "--provider", "carrier-pigeon"])
    assert info.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "invalid choice: 'carrier-pigeon'" in err
    assert "whatsapp-business" in err
    assert "sendgrid" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["send", "--tenant", "acme", "--to", "+15550001", "--body", "hi"],
        ["send", "--tenant", "acme", "--to", "+15550001", "--wait", "--timeout", "5"],
        ["tail"],
        ["worker"],
    ],
)
def test_no_broker_is_one_clear_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = herald(capsys, *argv, "--broker-wait", "0")
    assert code == ExitCode.UNAVAILABLE
    assert "herald: error: Kafka at 127.0.0.1:" in err
    assert "hint: start the broker" in err
    assert "Traceback" not in err
    assert out == ""


def test_the_broker_wait_says_it_is_waiting(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = herald(capsys, "tail", "--broker-wait", "0.3")
    assert code == ExitCode.UNAVAILABLE
    first, error, _hint = err.strip().splitlines()
    assert first.startswith("herald: waiting up to 0.3s for Kafka at 127.0.0.1:")
    assert "--broker-wait" in first
    assert error.endswith("did not answer within 0.3s")


def test_broker_wait_must_be_a_duration(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["tail", "--broker-wait", "-1"])
    assert info.value.code == ExitCode.USAGE
    assert "must be 0 or more seconds" in capsys.readouterr().err


def test_doctor_with_nothing_running(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = herald(capsys, "doctor", "--broker-wait", "0", "--json")
    assert code == ExitCode.FAILED
    report_ = json.loads(out)
    outcomes = {c["name"]: c["outcome"] for c in report_["checks"]}
    assert report_["ok"] is False
    assert outcomes["kafka"] == outcomes["redis"] == outcomes["secret key"] == "fail"
    assert outcomes["seed data"] == outcomes["redis storage"] == "skip"
    assert outcomes["chromium"] == outcomes["wa-js"] == "skip"  # WhatsApp Web disabled
    assert all(c["hint"] for c in report_["checks"] if c["outcome"] == "fail")

    code, out, _ = herald(capsys, "doctor", "--broker-wait", "0")
    assert code == ExitCode.FAILED
    lines = out.splitlines()
    assert lines[0].startswith("✗ kafka")
    assert lines[1].strip().startswith("hint: start the broker")


def test_doctor_render_ascii_fallback() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    render([Check("kafka", Outcome.OK, "fine"), Check("redis", Outcome.FAIL, "down", "start")],
           stream)  # fmt: skip
    stream.seek(0)
    assert stream.read().splitlines() == [
        "ok   kafka  fine",
        "FAIL redis  down",
        "            hint: start",
    ]


def test_wajs_version_is_checked(tmp_path: Path) -> None:
    bundle = tmp_path / "wa-js" / "dist" / "wppconnect-wa.js"
    bundle.parent.mkdir(parents=True)
    bundle.write_text('t.waVersion="2.3000.1";t.version="4.5.1",t.supportedWhatsappWeb=">=2"')
    assert bundle_version(bundle) == "4.5.1"
    settings = Settings(_env_file=None, wppconnect_wajs_path=str(bundle))
    check = check_wajs(settings)
    assert check.outcome is Outcome.FAIL
    assert "version 4.5.1" in check.summary
    (bundle.parent.parent / "package.json").write_text(
        json.dumps({"name": "@wppconnect/wa-js", "version": "4.6.0"})
    )
    assert bundle_version(bundle) == "4.6.0"
    assert check_wajs(settings).outcome is Outcome.OK
    missing = check_wajs(Settings(_env_file=None, wppconnect_wajs_path=str(tmp_path / "none.js")))
    assert missing.outcome is Outcome.FAIL
    assert missing.hint is not None
    assert "herald whatsapp install" in missing.hint


def test_command_error_defaults() -> None:
    assert CommandError("x").code == ExitCode.FAILED
    assert CommandError("x", code=ExitCode.TIMEOUT).code == ExitCode.TIMEOUT


def test_cli_reference_is_up_to_date() -> None:
    committed = (Path(__file__).resolve().parents[3] / "docs" / "cli.md").read_text()
    assert committed == render_cli_reference(), "docs/cli.md is stale: run scripts/gen_docs.py"
    for command in ("send", "status", "tail", "doctor", "sandbox whatsapp-web"):
        assert f"### `herald {command}`" in committed or f"#### `herald {command}`" in committed


def test_a_server_on_a_taken_port_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code, _, err = herald(capsys, "sandbox", "twilio", "--port", port)
    assert code == ExitCode.FAILED
    assert "address already in use" in err
    assert "hint: choose another --host/--port" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [["policy", "show"], ["status", "--id", "n1"], ["tail"]])
def test_a_malformed_tenant_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--tenant", "a b"])
    assert info.value.code == ExitCode.USAGE
    assert "invalid tenant id 'a b'" in capsys.readouterr().err


def test_sigterm_ends_an_async_command_like_ctrl_c() -> None:
    cleaned: list[bool] = []

    async def command(args: argparse.Namespace, settings: Settings) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.append(True)
        return 0

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(_until_terminated(command, argparse.Namespace(), Settings(_env_file=None)))
    assert cleaned == [True]


def test_send_names_the_sender() -> None:
    """``--sender`` picks one of the tenant's WhatsApp Web sessions (its sessionName)."""
    from streams.cli.send import build_request

    argv = ["send", "--tenant", "acme", "--to", "+5511999990001", "--body", "hi"]
    args = build_parser().parse_args([*argv, "--sender", "sales"])
    assert build_request(args).sender == "sales"
    assert build_request(build_parser().parse_args(argv)).sender is None
