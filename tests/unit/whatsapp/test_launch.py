"""How a session's Chromium is launched: the proxy, the pinned build, and its secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from providers.wppconnect import WPPConnectCredentials
from schemas.settings import Settings
from streams.whatsapp.driver import DriverSpec, SessionProxy
from streams.whatsapp.launch import CHROMIUM_FLAGS, launch_options, pinned_page_pattern
from streams.whatsapp.options import options_for

SECRET = "pr0xy-s3cret-Zq7"


def creds(**proxy: object) -> WPPConnectCredentials:
    return WPPConnectCredentials.model_validate(
        {"sessionName": "acme", "phoneNumberId": "p", "proxy": proxy}
    )


def options(url: str, *, pinned: bool, proxy: SessionProxy | None = None) -> dict[str, object]:
    return launch_options(
        Settings(_env_file=None),
        executable=None,
        agent=None,
        sandbox=True,
        proxy=proxy,
        pinned=pinned,
        timeout_ms=1000,
        url=url,
    )


def test_the_credentials_proxy_reaches_the_launch_and_no_repr() -> None:
    session = options_for(
        Settings(_env_file=None),
        creds(server="proxy.example:3128", username="acme", password=SECRET),
    )
    assert session.proxy == SessionProxy("http://proxy.example:3128", "acme", SECRET)
    found = options("https://web.whatsapp.com", pinned=False, proxy=session.proxy)
    assert found["proxy"] == {
        "server": "http://proxy.example:3128",
        "username": "acme",
        "password": SECRET,
    }
    spec = DriverSpec("acme", "tenant-acme", Path("/x"), "u", session.proxy)
    for shown in (
        repr(session),
        repr(spec),
        str(creds(server="h:1", username="u", password=SECRET)),
    ):
        assert SECRET not in shown


@pytest.mark.parametrize(
    ("proxy", "error"),
    [
        ({"server": "ftp://proxy.example:21"}, "scheme"),
        ({"server": f"http://acme:{SECRET}@proxy.example:3128"}, "not in the URL"),
        ({"server": "socks5://proxy.example:1080", "username": "u", "password": SECRET}, "SOCKS5"),
        ({"server": "http://proxy.example:3128", "password": SECRET}, "needs a username"),
        ({"server": "http://proxy.example:port"}, "port"),
    ],
)
def test_unusable_proxies_are_refused_without_echoing_the_password(
    proxy: dict[str, object], error: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        creds(**proxy)
    assert error in str(caught.value)
    assert SECRET not in caught.value.json(include_input=False)


def test_no_proxy_no_pin_is_todays_launch() -> None:
    found = options("https://web.whatsapp.com", pinned=False)
    assert found["args"][: len(CHROMIUM_FLAGS)] == list(CHROMIUM_FLAGS)
    assert "proxy" not in found
    assert "service_workers" not in found


def test_a_pinned_build_blocks_service_workers_and_lna_is_off_only_for_a_local_site() -> None:
    public = options("https://web.whatsapp.com", pinned=True)
    assert public["service_workers"] == "block"
    assert not any("LocalNetworkAccessChecks" in a for a in public["args"])  # type: ignore[attr-defined]
    for url in ("http://127.0.0.1:8095", "http://localhost:8095", "http://10.1.2.3"):
        local = options(url, pinned=True)
        flags = [a for a in local["args"] if a.startswith("--disable-features=")]  # type: ignore[attr-defined]
        assert len(flags) == 1  # one switch: a second would replace the first
        assert flags[0].endswith(",LocalNetworkAccessChecks")
    unpinned = options("http://127.0.0.1:8095", pinned=False)
    assert not any("LocalNetworkAccessChecks" in a for a in unpinned["args"])  # type: ignore[attr-defined]


def test_the_pinned_page_pattern_is_the_page_and_its_reloads_only() -> None:
    pattern = pinned_page_pattern("https://web.whatsapp.com")
    assert pattern.match("https://web.whatsapp.com/")
    assert pattern.match("https://web.whatsapp.com/?post_logout=1")
    assert not pattern.match("https://web.whatsapp.com/check-update?version=1")
    assert not pattern.match("https://static.whatsapp.net/rsrc.php/v4/x.js")
    assert not pattern.match("https://web.whatsapp.com.evil.example/")
