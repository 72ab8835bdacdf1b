"""Herald's copy of a fresh login in the profile (``streams/whatsapp/login.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from streams.whatsapp.login import LOGIN_FILE, read_login, restore_script, write_login

ORIGIN = "https://web.whatsapp.com"


def test_a_capture_with_the_login_is_kept_privately_and_read_back(tmp_path: Path) -> None:
    captured = {"origin": ORIGIN, "items": {"last-wid-md": '"5511:3@c.us"', "theme": "dark"}}
    assert write_login(tmp_path, captured)
    path = tmp_path / LOGIN_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / (LOGIN_FILE + ".tmp")).exists()
    assert read_login(tmp_path) == captured


def test_a_capture_without_the_login_keys_or_malformed_is_not_kept(tmp_path: Path) -> None:
    assert not write_login(tmp_path, {"origin": ORIGIN, "items": {"theme": "dark"}})
    assert not write_login(tmp_path, {"origin": ORIGIN, "items": {"last-wid-md": 7}})
    assert not write_login(tmp_path, ["not", "a", "capture"])
    assert not (tmp_path / LOGIN_FILE).exists()
    (tmp_path / LOGIN_FILE).write_text("{broken")
    assert read_login(tmp_path) is None


def test_the_restore_script_carries_the_items_and_the_login_keys() -> None:
    script = restore_script({"origin": ORIGIN, "items": {"last-wid-md": '"a"</script>'}})
    start = script.index("const kept = ") + len("const kept = ")
    kept = json.loads(script[start : script.index(";\n", start)])
    assert kept == {
        "origin": ORIGIN,
        "items": {"last-wid-md": '"a"</script>'},
        "keys": ["last-wid-md"],
    }
    # Only missing items are written, and only when a login key is missing.
    assert "localStorage.getItem(k) === null) localStorage.setItem(k, v)" in script
    assert "kept.keys.every((k) => localStorage.getItem(k) !== null)) return" in script
