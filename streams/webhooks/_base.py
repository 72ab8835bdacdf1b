from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["WebhookResponse"]


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int
    body: str = ""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
