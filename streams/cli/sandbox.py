"""``herald sandbox <service>``: serve a faithful local fake of an outside service.

For the demo, for tests, and for teams integrating with Herald without real accounts.
"""

from __future__ import annotations

import argparse
from typing import Any

from sandbox import GRAPH_VERSION, WhatsAppBusinessSandbox
from schemas import Settings
from streams.cli._sandbox_serve import add_service, csv, serve_until_interrupted
from streams.cli._support import add_command
from streams.cli.sandbox_email import register_email_sandboxes
from streams.cli.sandbox_push import register_push_sandboxes
from streams.cli.sandbox_sms import register_sms_sandboxes
from streams.cli.sandbox_whatsapp_web import register_whatsapp_web_sandbox

__all__ = ["SANDBOXES", "register"]

#: Every sandbox, in the order of ``herald sandbox --help`` (a test keeps it complete).
SANDBOXES = (
    "whatsapp-business",
    "twilio",
    "sns",
    "sendgrid",
    "ses",
    "mailgun",
    "firebase",
    "apn",
    "whatsapp-web",
)


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "sandbox",
        help="serve a local fake of an outside service: " + ", ".join(SANDBOXES),
        description="Serve a local fake of an outside service until interrupted.",
    )
    services = parser.add_subparsers(dest="service", required=True, metavar="SERVICE")
    wab = add_service(services, "whatsapp-business", run_whatsapp_business, port=8089)
    wab.add_argument("--phone-number-id", default="106540352242922")
    wab.add_argument("--access-token", default="sandbox-token")
    wab.add_argument("--app-secret", default="sandbox-app-secret")
    wab.add_argument(
        "--webhook-url",
        help="where to POST status webhooks, e.g. http://127.0.0.1:6066/webhooks/whatsapp-business",
    )
    wab.add_argument(
        "--auto-statuses",
        default="sent,delivered,read",
        help="statuses sent by webhook after each accepted message (comma-separated; '' for none)",
    )
    register_sms_sandboxes(services)
    register_email_sandboxes(services)
    register_push_sandboxes(services)
    register_whatsapp_web_sandbox(services)


async def run_whatsapp_business(args: argparse.Namespace, settings: Settings) -> int:
    """the WhatsApp Business Cloud API (Graph API) fake

    The Graph API's /{version}/{phone-number-id}/messages and /media endpoints with
    bearer-token checks, Meta's request validation, response and error shapes, and signed
    status webhooks (X-Hub-Signature-256). Control endpoints under /_sandbox/.
    """
    sandbox = WhatsAppBusinessSandbox()
    sandbox.add_account(
        args.phone_number_id,
        access_token=args.access_token,
        app_secret=args.app_secret,
        webhook_url=args.webhook_url,
        auto_statuses=csv(args.auto_statuses),
    )
    return await serve_until_interrupted(
        sandbox,
        args,
        lambda url: [
            f"WhatsApp Business sandbox at {url}/{GRAPH_VERSION}",
            f"  WHATSAPP_BUSINESS_API_URL={url}/{GRAPH_VERSION}",
            f"  phone number id {args.phone_number_id}; messages: GET {url}/_sandbox/messages",
        ],
    )
