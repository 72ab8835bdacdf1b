"""docs/asyncapi.yaml: generated, current, complete, and valid for the official parser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from schemas.asyncapi import asyncapi_document, default_asyncapi_yaml
from schemas.settings import Settings
from streams.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs/asyncapi.yaml"
VALIDATOR = ROOT / "clients/asyncapi/validate.mjs"


def _node() -> str:
    node = shutil.which("node")
    assert node, "node is required (scripts/bootstrap.sh installs it)"
    assert (ROOT / "clients/asyncapi/node_modules/@asyncapi/parser").is_dir(), (
        "run scripts/bootstrap.sh (npm ci in clients/asyncapi)"
    )
    return node


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_node(), str(VALIDATOR), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_committed_document_is_up_to_date() -> None:
    assert DOC.read_text() == default_asyncapi_yaml(), (
        "docs/asyncapi.yaml is stale: run `herald asyncapi --defaults --out docs/asyncapi.yaml`"
    )


def test_official_parser_accepts_the_document() -> None:
    result = _validate(DOC)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["ok"] is True
    assert "notifications.requests" in summary["channels"]


def test_official_parser_refuses_a_broken_document(tmp_path: Path) -> None:
    # The check must be able to fail: a payload whose schema is not a schema, and an
    # operation on a channel that does not exist.
    doc = asyncapi_document(Settings.model_construct())
    doc["components"]["messages"]["StatusEvent"]["payload"] = {"type": 42}
    doc["operations"]["sendStatus"]["channel"] = {"$ref": "#/channels/nowhere"}
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(doc))
    result = _validate(broken)
    assert result.returncode == 1, result.stdout
    assert '"severity":0' in result.stdout


def test_every_topic_herald_uses_is_a_channel() -> None:
    settings = Settings.model_construct()
    doc = asyncapi_document(settings)
    addresses: set[str] = set()
    for channel in doc["channels"].values():
        address = channel["address"]
        for tier in channel.get("parameters", {}).get("tier", {}).get("enum", []):
            addresses.add(address.replace("{tier}", tier))
        if "{" not in address:
            addresses.add(address)
    assert addresses == set(settings.all_topics)
    # Every channel is used by an operation, and each operation's message is the channel's.
    used = {op["channel"]["$ref"].rsplit("/", 1)[-1] for op in doc["operations"].values()}
    assert used == set(doc["channels"])


def test_payloads_keys_and_headers() -> None:
    doc = asyncapi_document(Settings.model_construct())
    messages = doc["components"]["messages"]
    schemas = doc["components"]["schemas"]
    # Outputs carry computed fields (eventId); inputs what producers may send.
    status = schemas[messages["StatusEvent"]["payload"]["$ref"].rsplit("/", 1)[-1]]
    assert "eventId" in status["required"]
    request = schemas[messages["NotificationRequest"]["payload"]["$ref"].rsplit("/", 1)[-1]]
    assert {"id", "tenantId", "channel", "recipient"} <= set(request["required"])
    # Every $ref points inside the document.
    text = json.dumps(doc)
    for ref in {r for r in text.split('"$ref": "')[1:]}:
        target = ref.split('"', 1)[0]
        node = doc
        for part in target.removeprefix("#/").split("/"):
            node = node[part]
    for name, message in messages.items():
        assert message["bindings"]["kafka"]["key"]["description"].startswith("The tenant id"), name
        assert {"traceparent", "tracestate"} <= set(message["headers"]["properties"]), name
    dlq_headers = messages["DeadLetter"]["headers"]
    assert "herald-dlq-reason" in dlq_headers["required"]


def test_cli_uses_the_configured_topic_names(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HERALD_TOPIC_STATUS", "acme.herald.status")
    monkeypatch.setenv("HERALD_RETRY_TIERS", "7,60")
    assert main(["asyncapi", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["channels"]["status"]["address"] == "acme.herald.status"
    assert doc["channels"]["retry"]["parameters"]["tier"]["enum"] == ["7", "60"]
    assert main(["asyncapi", "--defaults"]) == 0
    assert capsys.readouterr().out == default_asyncapi_yaml()
