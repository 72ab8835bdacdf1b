"""Every wa-js name the bridge uses exists in the pinned package's TypeScript declarations.

The package is installed by ``herald whatsapp install`` (scripts/bootstrap.sh: into
vendor/) where the worker finds it (``streams.whatsapp.assets.find_wajs``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from providers.wppconnect import (
    BRIDGE_JS,
    WAJS_PACKAGE,
    WAJS_VERSION,
    WPP_EVENTS,
    WPP_FUNCTIONS,
    WPP_PROPERTIES,
)
from streams.whatsapp.browser import wajs_path
from tests.helpers import make_settings


@pytest.fixture(scope="module")
def dist() -> Path:
    bundle = wajs_path(make_settings())
    assert bundle.is_file(), f"{bundle} is missing: run scripts/bootstrap.sh"
    return bundle.parent


def _declarations(dist: Path, relative: str) -> str:
    path = dist / relative
    assert path.is_file(), f"{relative} is not in the pinned package"
    return path.read_text(encoding="utf-8")


def test_the_installed_package_is_the_pinned_version(dist: Path) -> None:
    package = json.loads((dist.parent / "package.json").read_text())
    assert (package["name"], package["version"]) == (WAJS_PACKAGE, WAJS_VERSION)
    assert f"wa-js v{WAJS_VERSION}" in (dist / "wppconnect-wa.js").read_text()[:300]


@pytest.mark.parametrize("name", sorted(WPP_FUNCTIONS))
def test_each_function_is_declared_and_exported(dist: Path, name: str) -> None:
    namespace, function = name.split(".")
    text = _declarations(dist, WPP_FUNCTIONS[name])
    declared = re.search(rf"\bfunction {function}\(", text) or re.search(
        rf"\bas {function}\b", text
    )
    assert declared, f"{name} is not declared in {WPP_FUNCTIONS[name]}"
    index = _declarations(dist, f"{namespace}/functions/index.d.ts")
    module = Path(WPP_FUNCTIONS[name]).name.removesuffix(".d.ts")
    assert re.search(rf"export {{[^}}]*\b{function}\b[^}}]*}} from './{module}'", index)
    assert f"as {namespace} from './{namespace}'" in _declarations(dist, "index.d.ts")


@pytest.mark.parametrize("name", sorted(WPP_EVENTS))
def test_each_event_is_declared(dist: Path, name: str) -> None:
    assert f"'{name}'" in _declarations(dist, WPP_EVENTS[name])


@pytest.mark.parametrize("name", sorted(WPP_PROPERTIES))
def test_each_property_is_declared(dist: Path, name: str) -> None:
    last = name.split(".")[-1]
    assert re.search(rf"\b{last}\b", _declarations(dist, WPP_PROPERTIES[name]))


def test_the_ack_enum_matches_the_declarations(dist: Path) -> None:
    from providers.wppconnect import ACK

    text = _declarations(dist, "whatsapp/enums/ACK.d.ts")
    block = text[text.index("enum ACK {") : text.index("}", text.index("enum ACK {"))]
    declared = {m[0]: int(m[1]) for m in re.findall(r"(\w+) = (-?\d+)", block)}
    assert declared == {member.name: member.value for member in ACK}


def test_the_socket_states_match_the_declarations(dist: Path) -> None:
    from schemas.whatsapp import ConnectionState

    text = _declarations(dist, "whatsapp/enums/SOCKET_STATE.d.ts")
    block = text[
        text.index("enum SOCKET_STATE {") : text.index("}", text.index("enum SOCKET_STATE {"))
    ]
    assert set(re.findall(r'= "(\w+)"', block)) == {s.value for s in ConnectionState}


def test_the_bridge_uses_only_contract_names() -> None:
    used = set(re.findall(r"\bWPP\.([A-Za-z_.]+)", BRIDGE_JS))
    assert used, "the bridge names no WPP member: the check would prove nothing"
    for name in used:
        covered = (
            name in WPP_FUNCTIONS
            or name in WPP_PROPERTIES
            or any(name.startswith(p + ".") for p in WPP_PROPERTIES)  # a member of the model
            or any(p.startswith(name + ".") for p in WPP_PROPERTIES)  # the path to it
        )
        assert covered, f"the bridge uses WPP.{name}, which is not in the contract"
    # Functions are called through the allow-list (the contract's names) ...
    for function in WPP_FUNCTIONS:
        assert f'"{function}"' in BRIDGE_JS
    # ... and events subscribed by their contract names.
    for event in WPP_EVENTS:
        assert f'"{event}"' in BRIDGE_JS
