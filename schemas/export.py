"""JSON Schema export of the wire contract (``herald schemas`` and the docs use it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schemas.credentials import CREDENTIAL_MODELS, CREDENTIALS_ADAPTER
from schemas.dlq import DeadLetterInfo
from schemas.inbox import InboxError, InboxFeed, InboxItem
from schemas.integration import IntegrationSummary
from schemas.notification import NotificationRequest
from schemas.status import StatusEvent
from schemas.whatsapp import InboundMessage, QrCodeEvent, SessionCommand, SessionStateEvent

__all__ = ["json_schemas"]


def json_schemas() -> dict[str, dict[str, Any]]:
    """Model name -> JSON Schema (wire names), in a stable order.

    ``ProviderCredentials`` is the discriminated union (on ``providerType``) of every
    credentials model.
    """
    models: list[type[BaseModel]] = [
        NotificationRequest,
        StatusEvent,
        DeadLetterInfo,
        *CREDENTIAL_MODELS,
        IntegrationSummary,
        QrCodeEvent,
        SessionStateEvent,
        InboundMessage,
        SessionCommand,
        InboxFeed,
        InboxItem,
        InboxError,
    ]
    schemas = {model.__name__: model.model_json_schema(by_alias=True) for model in models}
    schemas["ProviderCredentials"] = CREDENTIALS_ADAPTER.json_schema(by_alias=True)
    return schemas
