"""A local stand-in for the npm registry: packuments and tarballs built by the test.

Serves what ``npm install`` reads (docs.npmjs.com, "registry API"): ``GET /<name>``
(scoped names as ``@scope%2fname`` or ``@scope/name``) answers the packument,
``{"name", "dist-tags", "versions": {v: {"name", "version", "dist": {"tarball",
"integrity", "shasum"}}}}``, and the tarball URL it names answers the gzipped tar with
every file under ``package/``. The integrity is computed here from the bytes served
(``sha512-<base64>``), unless the test publishes a tampered tarball: then the packument
keeps the integrity of the genuine one and the bytes differ, as with a compromised mirror.
A thread-run server, so both synchronous (the CLI) and asynchronous tests can use it.

    with FakeNpmRegistry() as registry:
        registry.publish("@wppconnect/wa-js", "4.6.0", {"dist/wppconnect-wa.js": "..."})
        registry.url  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote

__all__ = ["FakeNpmRegistry", "tarball"]


def tarball(files: dict[str, str | bytes], *, prefix: str = "package/") -> bytes:
    """A gzipped tar of ``files`` (names relative to ``prefix``), as ``npm pack`` makes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class FakeNpmRegistry:
    def __init__(self) -> None:
        self.packages: dict[str, dict[str, Any]] = {}
        self.tarballs: dict[str, bytes] = {}
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.requests.append(self.path)
                path = unquote(self.path.split("?", 1)[0])
                if path in registry.tarballs:
                    self._answer(200, registry.tarballs[path], "application/octet-stream")
                    return
                packument = registry.packages.get(path.lstrip("/"))
                if packument is None:
                    self._answer(404, b'{"error":"Not found"}', "application/json")
                    return
                self._answer(200, json.dumps(packument).encode(), "application/json")

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def publish(
        self,
        name: str,
        version: str,
        files: dict[str, str | bytes],
        *,
        tag: str | None = "latest",
        tampered: dict[str, str | bytes] | None = None,
    ) -> str:
        """Publish ``name@version``; with ``tampered``, serve those files instead (same
        integrity as the genuine ``files``). Returns the tarball's path."""
        genuine = tarball(files)
        path = f"/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"
        self.tarballs[path] = tarball(tampered) if tampered is not None else genuine
        packument = self.packages.setdefault(name, {"name": name, "dist-tags": {}, "versions": {}})
        packument["versions"][version] = {
            "name": name,
            "version": version,
            "dist": {
                "tarball": self.url + path,
                "integrity": _integrity(genuine),
                "shasum": hashlib.sha1(genuine).hexdigest(),
            },
        }
        if tag:
            packument["dist-tags"][tag] = version
        return path

    def __enter__(self) -> FakeNpmRegistry:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
