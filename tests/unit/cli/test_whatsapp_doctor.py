"""How ``herald whatsapp doctor`` judges what it read on a page (the page itself: the
integration tests in tests/integration/cli/test_whatsapp_doctor.py)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.cli.doctor import Outcome
from streams.cli.whatsapp._probe import PageProbe
from streams.cli.whatsapp.doctor import checks_of


def probe(**page: Any) -> PageProbe:
    values = {
        "injected": True,
        "ready": True,
        "wajsVersion": "4.6.0",
        "loaderType": "meta",
        "meta": True,
        "webpack": False,
        "waVersion": "2.3000.1029",
        "authenticated": False,
        "mainReady": False,
        "state": "UNPAIRED",
        "error": None,
        **page,
    }
    return PageProbe(
        url="https://web.whatsapp.com",
        executable="/usr/bin/chromium",
        status=200,
        page=values,
        auth_code={"fullCode": "2@abc,def,ghi", "ref": "2@abc", "type": "qr"},
    )


def outcomes(p: PageProbe) -> dict[str, Outcome]:
    return {c.name: c.outcome for c in checks_of(p)}


def test_a_meta_loader_page_passes_and_names_its_loader() -> None:
    checks = {c.name: c for c in checks_of(probe())}
    assert {c.outcome for c in checks.values()} == {Outcome.OK}
    assert "window.__d / require" in checks["wa-js"].summary


@pytest.mark.parametrize("state", ["DEPRECATED_VERSION", "TOS_BLOCK", "PROXYBLOCK", "CONFLICT"])
def test_a_refused_socket_fails_authentication(state: str) -> None:
    assert outcomes(probe(state=state))["authentication"] is Outcome.FAIL


def test_wajs_throwing_on_this_build_fails() -> None:
    result = outcomes(probe(error="Cannot read properties of undefined"))
    assert result["authentication"] is Outcome.FAIL


def test_no_code_fails_and_the_code_is_never_in_the_report() -> None:
    found = probe()
    assert "2@abc,def,ghi" not in repr([c.as_dict() for c in checks_of(found)])
    found.auth_code = None
    assert outcomes(found)["auth code"] is Outcome.FAIL


def test_an_unknown_version_on_a_ready_page_only_warns() -> None:
    assert outcomes(probe(waVersion=None))["whatsapp web"] is Outcome.WARN


def test_a_page_that_is_not_the_pinned_build_fails_naming_both() -> None:
    found = probe(waVersion="2.3000.1029")
    found.pinned = "2.3000.2000"
    check = {c.name: c for c in checks_of(found)}["whatsapp web"]
    assert check.outcome is Outcome.FAIL
    assert "2.3000.1029" in check.summary
    assert "2.3000.2000" in check.summary
    assert check.hint is not None
    assert "herald whatsapp install" in check.hint


def test_the_pinned_build_served_passes() -> None:
    found = probe(waVersion="2.3000.2000")
    found.pinned = "2.3000.2000"
    check = {c.name: c for c in checks_of(found)}["whatsapp web"]
    assert check.outcome is Outcome.OK
    assert check.details == {"version": "2.3000.2000", "pinned": "2.3000.2000"}
