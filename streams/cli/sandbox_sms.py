"""``herald sandbox twilio`` and ``herald sandbox sns``: the SMS fakes, served until interrupted."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sandbox import serve_app
from sandbox.sns import SNSSandbox
from sandbox.twilio import TwilioSandbox
from schemas import Settings

__all__ = ["register_sms_sandboxes"]


def register_sms_sandboxes(services: Any) -> None:
    """Add the ``twilio`` and ``sns`` services to ``herald sandbox``."""
    twilio = services.add_parser(
        "twilio",
        help="the Twilio Messages API fake",
        description=(
            "Twilio's POST /2010-04-01/Accounts/{AccountSid}/Messages.json with basic-auth "
            "checks (AccountSid:AuthToken or an API key), Twilio's form validation, Message "
            "resource and error shapes, and signed status callbacks (X-Twilio-Signature) to "
            "each message's StatusCallback. Control endpoints under /_sandbox/."
        ),
    )
    twilio.add_argument("--host", default="127.0.0.1")
    twilio.add_argument("--port", type=int, default=8091)
    twilio.add_argument("--account-sid", default="AC" + "0" * 31 + "1")
    twilio.add_argument("--auth-token", default="sandbox-auth-token")
    twilio.add_argument(
        "--auto-statuses",
        default="sent,delivered",
        help="statuses sent to the StatusCallback after each accepted message "
        "(comma-separated; '' for none)",
    )
    twilio.set_defaults(func=run_twilio)

    sns = services.add_parser(
        "sns",
        help="the Amazon SNS query API fake (SMS Publish)",
        description=(
            "SNS's query API (POST / Action=Publish&Version=2010-03-31) with AWS Signature "
            "Version 4 checked by botocore against the configured key, SNS's PublishResponse "
            "and ErrorResponse XML. Control endpoints under /_sandbox/."
        ),
    )
    sns.add_argument("--host", default="127.0.0.1")
    sns.add_argument("--port", type=int, default=8092)
    sns.add_argument("--region", default="us-east-1")
    sns.add_argument("--access-key-id", default="AKIASANDBOX000000001")
    sns.add_argument("--secret-access-key", default="sandbox-secret-access-key")
    sns.set_defaults(func=run_sns)


async def run_twilio(args: argparse.Namespace, settings: Settings) -> int:
    sandbox = TwilioSandbox()
    sandbox.add_account(
        args.account_sid,
        args.auth_token,
        auto_statuses=[s for s in args.auto_statuses.split(",") if s],
    )
    async with serve_app(sandbox.app, host=args.host, port=args.port) as base_url:
        print(f"Twilio sandbox at {base_url}", flush=True)
        print(f"  TWILIO_API_URL={base_url}", flush=True)
        print(f"  account {args.account_sid}; messages: GET {base_url}/_sandbox/messages")
        print("  set HERALD_PUBLIC_URL on the worker so that messages carry a StatusCallback")
        try:
            await asyncio.Event().wait()
        finally:
            await sandbox.close()
    return 0


async def run_sns(args: argparse.Namespace, settings: Settings) -> int:
    sandbox = SNSSandbox(region=args.region)
    sandbox.add_key(args.access_key_id, args.secret_access_key)
    async with serve_app(sandbox.app, host=args.host, port=args.port) as base_url:
        print(f"SNS sandbox ({args.region}) at {base_url}", flush=True)
        print(f"  SNS_ENDPOINT_URL={base_url}", flush=True)
        print(f"  access key {args.access_key_id}; messages: GET {base_url}/_sandbox/messages")
        try:
            await asyncio.Event().wait()
        finally:
            await sandbox.close()
    return 0
