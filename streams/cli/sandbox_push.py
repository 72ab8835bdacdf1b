"""``herald sandbox firebase`` and ``herald sandbox apn``: the push services' fakes.

Each run creates fresh test credentials and writes them to a file (never to the
terminal): the service account JSON for ``firebase``, the ``.p8`` key for ``apn``. The
printed lines say which settings and ``herald integrations set`` credentials use them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox._h2 import serve_h2
from sandbox.apn import APNsSandbox
from sandbox.firebase import FirebaseSandbox
from schemas import Settings
from streams.cli._sandbox_serve import add_service, serve_until_interrupted

__all__ = ["register_push_sandboxes"]


def register_push_sandboxes(services: Any) -> None:
    """Add the ``firebase`` and ``apn`` services to ``herald sandbox``."""
    fcm = add_service(services, "firebase", run_firebase, port=8091)
    fcm.add_argument("--project-id", default="herald-sandbox")
    fcm.add_argument("--credentials-out", type=Path, help="where to write the service account")

    apn = add_service(services, "apn", run_apn, port=8092)
    apn.add_argument("--team-id", default="SANDBOXTM1")
    apn.add_argument("--key-id", default="SANDBOXKY1")
    apn.add_argument("--bundle-id", default="com.example.herald")
    apn.add_argument("--key-out", type=Path, help="where to write the .p8 signing key")


def _write_private(path: Path | None, suffix: str, data: bytes) -> Path:
    """Write ``data`` readable by the owner only; a temporary file if no path is given."""
    if path is None:
        fd, name = tempfile.mkstemp(prefix="herald-sandbox-", suffix=suffix)
        os.close(fd)
        path = Path(name)
    path.write_bytes(data)
    path.chmod(0o600)
    return path


async def run_firebase(args: argparse.Namespace, settings: Settings) -> int:
    """the Firebase Cloud Messaging HTTP v1 fake (with its OAuth token endpoint)

    POST /v1/projects/{project}/messages:send with Google's checks and error shapes, and
    POST /token (the service account JWT bearer grant, RS256 verified). A service account
    key file is written to --credentials-out. Control: GET /_sandbox/messages, POST
    /_sandbox/unregister, POST /_sandbox/faults.
    """
    fake = FirebaseSandbox()
    account = fake.add_service_account(args.project_id)

    def lines(url: str) -> list[str]:
        info = account.info(token_uri=f"{url}/token")
        path = _write_private(args.credentials_out, ".json", orjson.dumps(info))
        return [
            f"Firebase Cloud Messaging sandbox at {url}",
            f"  FCM_API_URL={url}",
            f"  service account ({account.client_email}) written to {path}",
            "  herald integrations set --tenant acme --provider firebase --default "
            f'--credentials "{{\\"projectId\\": \\"{args.project_id}\\", '
            f'\\"serviceAccount\\": $(cat {path})}}"',
        ]

    return await serve_until_interrupted(fake, args, lines)


async def run_apn(args: argparse.Namespace, settings: Settings) -> int:
    """the Apple Push Notification service fake (HTTP/2, h2c)

    POST /3/device/{token} over HTTP/2 with prior knowledge (h2c; e.g. curl
    --http2-prior-knowledge), checking the ES256 provider token, apns-topic and headers like
    APNs, with Apple's reasons. The signing key (.p8) is written to --key-out. Control: GET
    /_sandbox/notifications.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    sandbox = APNsSandbox()
    sandbox.add_team(
        args.team_id, key_id=args.key_id, public_key=key.public_key(), bundle_ids=[args.bundle_id]
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = _write_private(args.key_out, ".p8", pem)
    server = serve_h2(sandbox.handle, host=args.host, port=args.port)
    return await serve_until_interrupted(
        sandbox,
        args,
        lambda url: [
            f"APNs sandbox (HTTP/2 prior knowledge) at {url}",
            f"  APNS_API_URL={url}",
            f"  team {args.team_id}, key {args.key_id}, bundle {args.bundle_id}; "
            f"signing key written to {path}",
        ],
        server,
    )
