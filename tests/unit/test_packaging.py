"""The container build and compose file agree with the code they package."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from providers.wppconnect._contract import WAJS_VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_pins_the_wa_js_version_the_bridge_is_checked_against() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG WAJS_VERSION={WAJS_VERSION}" in dockerfile
    targets = re.findall(r"^FROM \S+ AS (\S+)", dockerfile, flags=re.M)
    assert {"wajs", "build", "router", "whatsapp"} <= set(targets)
    # The same command as scripts/bootstrap.sh, where the worker looks (WHATSAPP_CACHE_DIR).
    assert "herald whatsapp install --cache-dir /opt/herald-cache" in dockerfile
    assert "WHATSAPP_CACHE_DIR=/opt/herald-cache" in dockerfile
    assert 'herald" whatsapp install' in (ROOT / "scripts" / "bootstrap.sh").read_text()


def test_compose_runs_the_router_and_the_whatsapp_worker() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["herald"]["build"]["target"] == "router"
    assert services["herald-whatsapp"]["build"]["target"] == "whatsapp"
    assert services["herald-whatsapp"]["command"] == ["herald", "worker", "whatsapp"]
    assert set(services) >= {"kafka", "redis", "herald", "herald-whatsapp"}
