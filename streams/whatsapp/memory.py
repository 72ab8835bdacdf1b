"""Memory of a session's browser: the PSS of its Chromium process tree (psutil).

Playwright does not name the process of a persistent context, so the browser process is
found among this worker's descendants by its ``--user-data-dir`` (the session's profile
directory). PSS (proportional set size) splits pages shared between processes, so the
sessions' figures add up to what the browsers really take; where PSS is not available
(not Linux) RSS is used.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

__all__ = ["browser_pid", "tree_memory"]


def browser_pid(profile_dir: Path) -> int | None:
    """The Chromium browser process (not a helper) running on ``profile_dir``, if any."""
    wanted = f"--user-data-dir={profile_dir}"
    try:
        me = psutil.Process(os.getpid())
        candidates = me.children(recursive=True)
    except psutil.Error:
        return None
    for process in candidates:
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            continue
        if wanted in cmdline and not any(arg.startswith("--type=") for arg in cmdline):
            return int(process.pid)
    return None


def tree_memory(pid: int) -> int | None:
    """Bytes used by ``pid`` and its descendants (PSS, else RSS); ``None`` if it is gone."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for process in processes:
        try:
            info = process.memory_full_info()
            total += int(getattr(info, "pss", 0) or info.rss)
        except psutil.AccessDenied:
            try:
                total += int(process.memory_info().rss)
            except psutil.Error:
                continue
        except psutil.Error:
            continue
    return total
