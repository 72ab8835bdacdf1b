"""Local fakes of the outside services Herald talks to, for tests, demos and teams.

Each fake is an aiohttp application that checks what the real service checks and
answers with the real service's shapes; :func:`serve_app` runs any of them on a port::

    sandbox = WhatsAppBusinessSandbox()
    sandbox.add_account("1065...", access_token="token", app_secret="secret")
    async with serve_app(sandbox.app, port=0) as base_url:
        ...  # WHATSAPP_BUSINESS_API_URL = f"{base_url}/{GRAPH_VERSION}"
"""

from __future__ import annotations

from sandbox._records import DeliveredWebhook, Fault, SandboxAccount, SentMessage, UploadedMedia
from sandbox._server import serve_app
from sandbox.whatsapp_business import GRAPH_VERSION, WhatsAppBusinessSandbox

__all__ = [
    "GRAPH_VERSION",
    "DeliveredWebhook",
    "Fault",
    "SandboxAccount",
    "SentMessage",
    "UploadedMedia",
    "WhatsAppBusinessSandbox",
    "serve_app",
]
