"""Herald's own copy of a login, written to the profile the moment the login exists.

WhatsApp Web keeps a paired device in IndexedDB (its key pair, written at once) and in
localStorage (``last-wid-md``: which device this profile is). Chromium's storage
service commits localStorage to disk about 5 s after a write, or when the browser
closes cleanly; a browser that dies before (a crash, ``kill -9``, or a stop signal that
reaches Chromium's own processes, as systemd's ``KillMode=control-group`` sends) loses
the write, and the profile comes back unpaired.

So right after a scan (before ``qrReadSuccess`` is reported) and at every logged-in
start, the session reads the page's localStorage and writes it to
:data:`LOGIN_FILE` in the profile (mode 0600, written to a temporary file, fsynced,
renamed). When the profile is opened again, :func:`restore_script` runs before any of
the page's scripts: if the login keys (:data:`LOGIN_KEYS`) are missing from
localStorage -- Chromium lost the commit -- it writes back the kept items that are
missing; otherwise it changes nothing. The file travels with the profile archive.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = [
    "CAPTURE_JS",
    "LOGIN_FILE",
    "LOGIN_KEYS",
    "KeptLogin",
    "has_login",
    "read_login",
    "restore_script",
    "write_login",
]

#: In the profile directory, next to Chromium's own files.
LOGIN_FILE = ".herald-login.json"
#: localStorage keys without which WhatsApp Web does not know it is paired.
LOGIN_KEYS: tuple[str, ...] = ("last-wid-md",)
#: At most this much localStorage is kept (WhatsApp Web's own quota is 10 MB per origin).
MAX_BYTES = 8 * 1024 * 1024

#: Evaluated in the page: its origin and every localStorage item.
CAPTURE_JS = """() => {
  const items = {};
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key !== null) items[key] = localStorage.getItem(key);
  }
  return { origin: location.origin, items };
}"""

_RESTORE_TEMPLATE = """(() => {
  const kept = __KEPT__;
  try {
    if (location.origin !== kept.origin) return;
    if (kept.keys.every((k) => localStorage.getItem(k) !== null)) return;
    for (const [k, v] of Object.entries(kept.items)) {
      if (localStorage.getItem(k) === null) localStorage.setItem(k, v);
    }
  } catch (e) { /* storage unavailable: the page shows a QR code, nothing worse */ }
})();"""

KeptLogin = dict[str, Any]


def _valid(data: Any) -> KeptLogin | None:
    if not isinstance(data, dict):
        return None
    origin, items = data.get("origin"), data.get("items")
    if not isinstance(origin, str) or not isinstance(items, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in items.items()):
        return None
    return {"origin": origin, "items": items}


def has_login(data: KeptLogin | None) -> bool:
    return data is not None and any(k in data["items"] for k in LOGIN_KEYS)


def write_login(profile: Path, captured: Any) -> bool:
    """Keep ``captured`` (what :data:`CAPTURE_JS` returned) if it holds a login (blocking)."""
    data = _valid(captured)
    if not has_login(data):
        return False
    raw = json.dumps(data, separators=(",", ":")).encode()
    if len(raw) > MAX_BYTES:
        return False
    path = profile / LOGIN_FILE
    staging = profile / (LOGIN_FILE + ".tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(staging, path)
    directory = os.open(profile, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself is durable
    finally:
        os.close(directory)
    return True


def read_login(profile: Path) -> KeptLogin | None:
    try:
        return _valid(json.loads((profile / LOGIN_FILE).read_bytes()))
    except (OSError, ValueError):
        return None


def restore_script(data: KeptLogin) -> str:
    """The init script giving back the kept items when Chromium lost the login's commit."""
    kept = {**data, "keys": list(LOGIN_KEYS)}
    return _RESTORE_TEMPLATE.replace("__KEPT__", json.dumps(kept))
