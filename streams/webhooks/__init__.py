"""Inbound provider webhooks: verify, parse, and hand delivery reports to the updater.

Each module is plain async code returning a :class:`WebhookResponse`; the web views
in ``streams.web`` only translate HTTP in and out.
"""

from __future__ import annotations

from streams.webhooks._base import WebhookResponse

__all__ = ["WebhookResponse"]
