"""``herald sandbox twilio`` and ``herald sandbox sns``: the SMS fakes, served until interrupted."""

from __future__ import annotations

import argparse
from typing import Any

from sandbox.sns import SNSSandbox
from sandbox.twilio import TwilioSandbox
from schemas import Settings
from streams.cli._sandbox_serve import add_service, csv, serve_until_interrupted

__all__ = ["register_sms_sandboxes"]


def register_sms_sandboxes(services: Any) -> None:
    """Add the ``twilio`` and ``sns`` services to ``herald sandbox``."""
    twilio = add_service(services, "twilio", run_twilio, port=8091)
    twilio.add_argument("--account-sid", default="AC" + "0" * 31 + "1")
    twilio.add_argument("--auth-token", default="sandbox-auth-token")
    twilio.add_argument(
        "--auto-statuses",
        default="sent,delivered",
        help="statuses sent to the StatusCallback after each accepted message "
        "(comma-separated; '' for none)",
    )

    sns = add_service(services, "sns", run_sns, port=8092)
    sns.add_argument("--region", default="us-east-1")
    sns.add_argument("--access-key-id", default="AKIASANDBOX000000001")
    sns.add_argument("--secret-access-key", default="sandbox-secret-access-key")


async def run_twilio(args: argparse.Namespace, settings: Settings) -> int:
    """the Twilio Messages API fake

    Twilio's POST /2010-04-01/Accounts/{AccountSid}/Messages.json with basic-auth checks
    (AccountSid:AuthToken or an API key), Twilio's form validation, Message resource and
    error shapes, and signed status callbacks (X-Twilio-Signature) to each message's
    StatusCallback. Control endpoints under /_sandbox/.
    """
    fake = TwilioSandbox()
    fake.add_account(args.account_sid, args.auth_token, auto_statuses=csv(args.auto_statuses))
    return await serve_until_interrupted(
        fake,
        args,
        lambda url: [
            f"Twilio sandbox at {url}",
            f"  TWILIO_API_URL={url}",
            f"  account {args.account_sid}; messages: GET {url}/_sandbox/messages",
            "  set HERALD_PUBLIC_URL on the worker so that messages carry a StatusCallback",
        ],
    )


async def run_sns(args: argparse.Namespace, settings: Settings) -> int:
    """the Amazon SNS query API fake (SMS Publish)

    SNS's query API (POST / Action=Publish&Version=2010-03-31) with AWS Signature Version 4
    checked by botocore against the configured key, SNS's PublishResponse and ErrorResponse
    XML. Control endpoints under /_sandbox/.
    """
    fake = SNSSandbox(region=args.region)
    fake.add_key(args.access_key_id, args.secret_access_key)
    return await serve_until_interrupted(
        fake,
        args,
        lambda url: [
            f"SNS sandbox ({args.region}) at {url}",
            f"  SNS_ENDPOINT_URL={url}",
            f"  access key {args.access_key_id}; messages: GET {url}/_sandbox/messages",
        ],
    )
