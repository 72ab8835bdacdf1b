"""``herald sandbox sendgrid|ses|mailgun``: the email fakes, served until interrupted."""

from __future__ import annotations

import argparse
from typing import Any

from sandbox.mailgun import MailgunSandbox
from sandbox.sendgrid import SendGridSandbox
from sandbox.ses import SESSandbox
from schemas import Settings
from streams.cli._sandbox_serve import add_service, csv, serve_until_interrupted

__all__ = ["register_email_sandboxes"]


def register_email_sandboxes(services: Any) -> None:
    """Add the ``sendgrid``, ``ses`` and ``mailgun`` services to ``herald sandbox``."""
    sendgrid = add_service(services, "sendgrid", run_sendgrid, port=8101)
    sendgrid.add_argument("--api-key", default="SG.sandbox-api-key")
    sendgrid.add_argument(
        "--verified-sender",
        action="append",
        help="address or @domain the key may send from (repeatable; default: any)",
    )
    sendgrid.add_argument(
        "--webhook-url",
        help="where to POST events, e.g. http://127.0.0.1:6066/webhooks/sendgrid?tenant=acme",
    )
    sendgrid.add_argument(
        "--auto-events",
        default="delivered,open",
        help="events posted after each accepted mail (comma-separated; '' for none)",
    )

    ses = add_service(services, "ses", run_ses, port=8102)
    ses.add_argument("--region", default="us-east-1")
    ses.add_argument("--access-key-id", default="AKIASANDBOX000000002")
    ses.add_argument("--secret-access-key", default="sandbox-secret-access-key")
    ses.add_argument(
        "--verified-identity",
        action="append",
        help="address or domain that may send (repeatable; default: example.com)",
    )
    ses.add_argument("--configuration-set", action="append", default=[])

    mailgun = add_service(services, "mailgun", run_mailgun, port=8103)
    mailgun.add_argument("--region", choices=("us", "eu"), default="us")
    mailgun.add_argument("--domain", default="mg.example.com")
    mailgun.add_argument("--api-key", default="key-sandbox")
    mailgun.add_argument("--webhook-signing-key", default="sandbox-webhook-signing-key")
    mailgun.add_argument(
        "--webhook-url", help="where to POST events, e.g. http://127.0.0.1:6066/webhooks/mailgun"
    )
    mailgun.add_argument(
        "--auto-events",
        default="delivered,opened",
        help="events posted after each accepted mail (comma-separated; '' for none)",
    )


async def _serve(fake: Any, args: argparse.Namespace, lines: list[str]) -> int:
    """Serve ``fake``; ``lines`` name the base URL ``{url}``, then where its mails are listed."""
    return await serve_until_interrupted(
        fake,
        args,
        lambda url: [
            *(line.format(url=url) for line in lines),
            f"  mails: GET {url}/_sandbox/messages",
        ],
    )


async def run_sendgrid(args: argparse.Namespace, settings: Settings) -> int:
    """the SendGrid v3 Mail Send fake, with signed Event Webhooks

    SendGrid's POST /v3/mail/send with Bearer API-key checks, SendGrid's validation and
    error shapes ({"errors": [...]}), 202 + X-Message-Id, and Event Webhooks signed with
    ECDSA P-256 (X-Twilio-Email-Event-Webhook-Signature). Prints the verification key to put
    in the integration's webhookPublicKey. Control endpoints under /_sandbox/.
    """
    sandbox = SendGridSandbox()
    account = sandbox.add_account(
        args.api_key,
        verified_senders=args.verified_sender or ["*"],
        webhook_url=args.webhook_url,
        auto_events=csv(args.auto_events),
    )
    return await _serve(
        sandbox,
        args,
        [
            "SendGrid sandbox at {url}",
            "  SENDGRID_API_URL={url}",
            f"  apiKey {args.api_key}",
            f"  webhookPublicKey {account.public_key}",
        ],
    )


async def run_ses(args: argparse.Namespace, settings: Settings) -> int:
    """the Amazon SES API v2 SendEmail fake (SigV4 checked)

    SES v2's POST /v2/email/outbound-emails with AWS Signature Version 4 verified by
    botocore against the configured key, verified-identity checks (MessageRejected) and
    AWS's REST-JSON error shape (x-amzn-ErrorType). Control endpoints under /_sandbox/.
    """
    sandbox = SESSandbox(region=args.region)
    sandbox.add_account(
        args.access_key_id,
        args.secret_access_key,
        verified_identities=args.verified_identity or ["example.com"],
        configuration_sets=args.configuration_set,
    )
    return await _serve(
        sandbox,
        args,
        [
            f"SES v2 sandbox ({args.region}) at {{url}}",
            "  SES_ENDPOINT_URL={url}",
            f"  accessKeyId {args.access_key_id}; region {args.region}",
        ],
    )


async def run_mailgun(args: argparse.Namespace, settings: Settings) -> int:
    """the Mailgun Messages API fake, with signed webhooks

    Mailgun's POST /v3/{domain}/messages with basic auth (api:KEY; 401 Forbidden otherwise),
    form or multipart fields, Mailgun's answers and error shapes, and JSON webhooks signed
    with the webhook signing key (HMAC-SHA256 of timestamp + token). Control endpoints under
    /_sandbox/.
    """
    sandbox = MailgunSandbox(region=args.region)
    sandbox.add_domain(
        args.domain,
        api_key=args.api_key,
        webhook_signing_key=args.webhook_signing_key,
        webhook_url=args.webhook_url,
        auto_events=csv(args.auto_events),
    )
    variable = "MAILGUN_EU_API_URL" if args.region == "eu" else "MAILGUN_API_URL"
    return await _serve(
        sandbox,
        args,
        [
            f"Mailgun sandbox ({args.region}) at {{url}}",
            f"  {variable}={{url}}",
            f"  domain {args.domain}; apiKey {args.api_key}",
        ],
    )
