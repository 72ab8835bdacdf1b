"""The fakes ship apart from the product: not in Herald's wheel nor its image, in their
own distribution (the ``herald[sandbox]`` extra), and the CLI says what to install."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from streams.cli import main as cli
from streams.cli.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]


_BUILD = "import sys; from setuptools import build_meta as b; b.build_wheel(sys.argv[1])"
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")


def _wheel(tree: Path, names: list[str], project: str = ".") -> list[str]:
    """Build the wheel of ``project`` in a copy of ``names`` (the checkout stays clean)."""
    tree.mkdir()
    for name in names:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=_SKIP)
        else:
            shutil.copy(source, tree / name)
    out = tree / "dist"
    subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _BUILD, str(out)],
        cwd=tree / project,
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_herald_wheel_has_no_fakes_and_the_sandbox_wheel_has_them(tmp_path: Path) -> None:
    packages = ["providers", "schemas", "seeds", "streams", "sandbox"]
    herald = _wheel(tmp_path / "herald", ["pyproject.toml", "README.md", *packages])
    assert any(name.startswith("providers/mailgun/") for name in herald)
    assert not [name for name in herald if name.startswith("sandbox/")]
    for asset in ("whatsapp-console.html", "whatsapp-console.js", "whatsapp-console.css"):
        assert f"streams/web/static/{asset}" in herald  # the session console, no build step
    fakes = _wheel(tmp_path / "fakes", ["sandbox"], "sandbox")
    assert "sandbox/twilio.py" in fakes
    assert "sandbox/whatsapp_web/static/wa-sim.js" in fakes
    assert not [n for n in fakes if n.split("/")[0] in {"providers", "streams", "schemas"}]


def test_the_extra_names_the_sandbox_distribution() -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    fakes = tomllib.loads((ROOT / "sandbox" / "pyproject.toml").read_text())["project"]
    extra = root["project"]["optional-dependencies"]["sandbox"]
    assert extra == [f"{fakes['name']}=={fakes['version']}"]


def test_the_production_image_leaves_the_fakes_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "sandbox" in ignored
    assert "COPY sandbox" not in (ROOT / "Dockerfile").read_text()


def test_fakes_import_no_product_module() -> None:
    for path in (ROOT / "sandbox").rglob("*.py"):
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] in (["from"], ["import"]) and len(words) > 1:
                top = words[1].split(".")[0]
                assert top not in {"providers", "streams", "schemas", "seeds"}, (path, line)


@pytest.mark.parametrize("command", [["sandbox", "twilio", "--port", "0"], ["demo"]])
def test_without_the_fakes_the_cli_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    for name in list(sys.modules):
        if name == "sandbox" or name.startswith(("sandbox.", "streams.cli.")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sandbox", None)  # as if herald-sandbox were absent
    assert cli.main(command) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "pip install 'herald[sandbox]'" in err
    assert f"herald {command[0]}" in err
