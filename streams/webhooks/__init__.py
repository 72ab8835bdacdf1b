"""Kept as an import path: the providers' webhooks live in their packages now.

Each provider declares its webhooks on its class (``providers.webhooks.Webhook``) and
``streams.web.views`` mounts them; :class:`WebhookResponse` is re-exported here for the
session endpoints written against this path.
"""

from __future__ import annotations

from providers.webhooks import WebhookResponse

__all__ = ["WebhookResponse"]
