"""``herald sandbox whatsapp-web``: the WhatsApp Web simulator, served until interrupted."""

from __future__ import annotations

import argparse
from typing import Any

from sandbox.whatsapp_web import WhatsAppWebSimulator
from schemas import Settings
from streams.cli._sandbox_serve import add_service, serve_until_interrupted

__all__ = ["register_whatsapp_web_sandbox"]


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def register_whatsapp_web_sandbox(services: Any) -> None:
    """Add the ``whatsapp-web`` service to ``herald sandbox``."""
    web = add_service(services, "whatsapp-web", run_whatsapp_web, port=8095)
    web.add_argument(
        "--qr-interval", type=_positive, default=20.0, help="seconds each auth code lives"
    )
    web.add_argument(
        "--first-qr-interval",
        type=_positive,
        default=None,
        help="seconds the first auth code lives (default: --qr-interval; WhatsApp: about 60)",
    )
    web.add_argument(
        "--max-codes", type=int, default=6, help="codes shown before the page goes idle"
    )
    web.add_argument(
        "--boot-delay",
        type=float,
        default=0.0,
        help="seconds each page loads before its first event, like WhatsApp Web's loading screen",
    )
    web.add_argument(
        "--link-code-ttl",
        type=_positive,
        default=180.0,
        help="seconds a pairing code (link by phone number) can be entered on the phone",
    )
    web.add_argument(
        "--no-reload-on-logout",
        action="store_true",
        help="after a logout show a new code in place instead of navigating to /?post_logout=1",
    )
    web.add_argument(
        "--reload-after-pairing",
        action="store_true",
        help="reload the page once right after a scan, as WhatsApp Web sometimes does",
    )
    web.add_argument(
        "--min-version",
        metavar="BUILD",
        help="refuse WhatsApp Web builds older than BUILD (e.g. 2.3000.1000000001): their "
        "pages get conn.needs_update and DEPRECATED_VERSION, as outdated clients do",
    )


async def run_whatsapp_web(args: argparse.Namespace, settings: Settings) -> int:
    """the WhatsApp Web simulator (a page implementing wa-js, and a fake phone)

    Serves a page whose window.WPP implements the part of @wppconnect/wa-js that Herald's
    WhatsApp Web bridge uses (pairing by QR code, sending, acks, incoming messages, logout,
    conflict, pairing codes), and 'the phone' over HTTP under /phone/: scan a code (or fail
    a scan), enter a pairing code, list sent messages, make acks happen, write to a
    session. For tests, the demo and UI teams building the QR flow without a phone. With
    --min-version, pages of older WhatsApp Web builds are refused as WhatsApp refuses an
    outdated client (conn.needs_update, DEPRECATED_VERSION). Open the page on localhost or
    127.0.0.1 (WebCrypto needs a secure context). See docs/whatsapp-web-simulator.md.
    """
    simulator = WhatsAppWebSimulator(
        qr_interval=args.qr_interval,
        first_qr_interval=args.first_qr_interval,
        max_codes=max(args.max_codes, 1),
        reload_on_logout=not args.no_reload_on_logout,
        reload_after_pairing=args.reload_after_pairing,
        boot_delay=max(args.boot_delay, 0.0),
        link_code_ttl=args.link_code_ttl,
        min_version=args.min_version,
    )
    return await serve_until_interrupted(
        simulator,
        args,
        lambda url: [
            f"WhatsApp Web simulator at {url}/",
            f"  codes shown now:   GET  {url}/phone/pending-codes",
            f'  scan one:          POST {url}/phone/scan {{"code": "...", "phone": "5511999990000"}}',
            f"  enter a pairing code: POST {url}/phone/link-code "
            '{"code": "ABCD-EFGH", "phone": "5511999990000"}',
            f"  messages sent:     GET  {url}/phone/messages",
        ],
    )
