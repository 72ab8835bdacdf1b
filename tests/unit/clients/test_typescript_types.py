"""The TypeScript client's generated types agree with `herald schemas`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from schemas import StatusEvent
from schemas.clientgen import ROOT
from streams.cli.main import main

PACKAGE = ROOT / "clients/typescript"


def test_generated_types_match_herald_schemas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = shutil.which("node")
    assert node, "node is required (scripts/bootstrap.sh installs it)"
    assert main(["schemas"]) == 0
    exported = tmp_path / "schemas.json"
    exported.write_text(capsys.readouterr().out)
    result = subprocess.run(
        [node, "scripts/gen-types.mjs", str(exported), "--stdout"],
        cwd=PACKAGE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for rel, text in json.loads(result.stdout).items():
        assert (PACKAGE / rel).read_text() == text, (
            f"clients/typescript/{rel} is stale: run `npm run generate` in clients/typescript"
        )


def test_event_id_is_the_only_computed_field() -> None:
    """src/types.ts adds `eventId` to the exported (input) StatusEvent schema by hand."""
    written = StatusEvent.model_json_schema(by_alias=True, mode="serialization")
    read = StatusEvent.model_json_schema(by_alias=True, mode="validation")
    assert set(written["properties"]) - set(read["properties"]) == {"eventId"}
    assert written["properties"]["eventId"]["type"] == "string"
