"""How a session's Chromium is kept apart from the worker (docs/security.md, "The browser").

* the sandbox (:func:`use_sandbox`): Chromium's renderers run in their own user and PID
  namespaces under a seccomp filter wherever the platform allows -- a worker that is not
  root, on a kernel with unprivileged user namespaces (Debian and the Dockerfile's
  ``USER herald`` qualify);
* the environment (:func:`browser_env`): the browser processes get an allowlist of the
  worker's variables, never ``HERALD_SECRET_KEY``, Redis or database URLs or provider keys;
* wa-js's configuration (:data:`WPP_CONFIG_JS`): no third-party link-preview servers, no
  analytics;
* WhatsApp Web's own CSP stays on (``WHATSAPP_WPPCONNECT_BYPASS_CSP=false``): wa-js and the
  bridge are init scripts, which CSP does not govern.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["NO_SANDBOX_FLAGS", "WPP_CONFIG_JS", "browser_env", "use_sandbox"]

#: Only where the sandbox cannot run (a root worker; no user namespaces): see use_sandbox.
NO_SANDBOX_FLAGS: tuple[str, ...] = ("--no-sandbox", "--disable-setuid-sandbox")

#: wa-js's configuration, read when its bundle loads (prepended to it). wa-js would
#: otherwise send every link in an outgoing text to third-party link-preview servers
#: (``linkPreviewApiServers`` defaults to three hosts outside WhatsApp) and could report
#: to Google Analytics: message contents stay between the page and WhatsApp.
WPP_CONFIG_JS = (
    "window.WPPConfig = Object.assign(window.WPPConfig || {}, "
    "{linkPreviewApiServers: [], disableGoogleAnalytics: true, googleAnalyticsId: null, poweredBy: null});\n"
)

#: Environment variables the browser gets (anything else, e.g. HERALD_SECRET_KEY,
#: REDIS_URL with its password, provider keys, stays in the worker).
_BROWSER_ENV = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "FONTCONFIG_PATH",
        "FONTCONFIG_FILE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
    }
)


def browser_env(environ: Mapping[str, str]) -> dict[str, str | float | bool]:
    """What the browser processes see of the worker's environment: an allowlist."""
    return {k: v for k, v in environ.items() if k in _BROWSER_ENV or k.startswith("LC_")}


def use_sandbox(mode: str, euid: int) -> bool:
    """Whether Chromium runs sandboxed: ``on``, ``off``, or ``auto`` (unless root).

    Chromium refuses to start sandboxed as root; as any other user its namespace sandbox
    needs unprivileged user namespaces (or a setuid ``chrome-sandbox``). ``auto`` tries,
    and falls back (with one warning) if Chromium finds no usable sandbox.
    """
    if mode == "on":
        return True
    if mode == "off":
        return False
    return euid != 0
