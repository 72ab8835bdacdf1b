"""Herald's topics as Faust topic objects, declared in one place (names from settings).

Kept apart from :mod:`streams.platform.app` so that the modules that only need the
topics' shape (agents, sinks, runtimes) do not import the app and its agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from schemas import Settings

__all__ = ["Topics"]


@dataclass(frozen=True)
class Topics:
    """Herald's topics as Faust topic objects (names from settings)."""

    requests: Any
    status: Any
    dlq: Any
    whatsapp_qr: Any
    whatsapp_state: Any
    whatsapp_inbound: Any
    whatsapp_commands: Any
    whatsapp_dispatch: Any
    retry: dict[str, Any]  # delay topic name -> topic

    def dispatch_topic(self, role: str) -> Any:
        """The internal topic on which the router hands requests to worker ``role``."""
        if role == "whatsapp":
            return self.whatsapp_dispatch
        raise ValueError(f"no dispatch topic for worker role {role!r}")

    @classmethod
    def declare(cls, app: faust.App, settings: Settings) -> Topics:
        def topic(name: str) -> Any:
            # Raw bytes in and out: Herald decodes itself, so undecodable input reaches the
            # dead-letter topic instead of failing inside Faust's codec layer.
            return app.topic(
                name,
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
                partitions=settings.topic_partitions,
            )

        return cls(
            requests=topic(settings.topic_requests),
            status=topic(settings.topic_status),
            dlq=topic(settings.topic_dlq),
            whatsapp_qr=topic(settings.topic_whatsapp_qr),
            whatsapp_state=topic(settings.topic_whatsapp_state),
            whatsapp_inbound=topic(settings.topic_whatsapp_inbound),
            whatsapp_commands=topic(settings.topic_whatsapp_commands),
            whatsapp_dispatch=topic(settings.topic_whatsapp_dispatch),
            retry={name: topic(name) for name in settings.retry_topics.values()},
        )
