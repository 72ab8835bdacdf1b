"""AsyncAPI 3.0 description of every topic Herald reads or writes (``herald asyncapi``).

Channels carry the topic names of the given settings (docs/asyncapi.yaml: the defaults)
and name the variable that changes each one (``x-herald-setting``). Message payloads
are the JSON Schema of the pydantic wire models, their ``$defs`` moved to
``components.schemas`` so that every ``$ref`` resolves inside the one document.
Operations are written from Herald's side: ``receive`` is a topic Herald consumes,
``send`` one it produces to.
"""

from __future__ import annotations

import copy
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.dlq import DLQ_HEADER_PREFIX, DeadLetterInfo
from schemas.notification import NotificationRequest
from schemas.retry import RetryEnvelope
from schemas.settings import Settings
from schemas.status import StatusEvent
from schemas.whatsapp import InboundMessage, QrCodeEvent, SessionCommand, SessionStateEvent

__all__ = ["TRACE_HEADERS", "asyncapi_document", "asyncapi_yaml", "default_asyncapi_yaml"]

_BINDING = "0.5.0"  # Kafka bindings version
_REF = "#/components/schemas/"

#: The W3C trace context (https://www.w3.org/TR/trace-context/) as Kafka headers.
TRACE_HEADERS: dict[str, Any] = {
    "traceparent": {
        "type": "string",
        "description": "W3C trace context: version-traceid-parentid-flags. Continued by Herald "
        "when present on a request; set by Herald on every record it produces when tracing is "
        "on (docs/tracing.md).",
        "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        "examples": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
    },
    "tracestate": {
        "type": "string",
        "maxLength": 512,
        "description": "W3C trace state: vendor entries travelling with traceparent.",
    },
}


def _herald_version() -> str:
    try:
        return version("herald")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


_Mode = Literal["validation", "serialization"]


class _Components:
    """Collects model schemas under ``components.schemas``.

    Inputs (what Herald reads) use pydantic's validation schema, outputs its serialization
    schema (with computed fields such as ``eventId``); a model whose two schemas differ
    appears twice, suffixed ``-Input`` and ``-Output`` by pydantic.
    """

    def __init__(self) -> None:
        self._wanted: list[tuple[type[BaseModel], _Mode]] = []
        self.schemas: dict[str, Any] = {}
        self._refs: dict[tuple[type[BaseModel], _Mode], dict[str, Any]] = {}

    def model(self, model: type[BaseModel], mode: _Mode) -> dict[str, Any]:
        """A ``$ref`` placeholder, filled in by :meth:`resolve`."""
        if (model, mode) not in self._refs:
            self._wanted.append((model, mode))
            self._refs[(model, mode)] = {}
        return self._refs[(model, mode)]

    def resolve(self) -> None:
        refs, top = models_json_schema(self._wanted, by_alias=True, ref_template=_REF + "{model}")
        self.schemas = top.get("$defs", {})
        for key, placeholder in self._refs.items():
            placeholder.update(refs[key])


def _headers(extra: dict[str, Any] | None = None, *, description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {**copy.deepcopy(TRACE_HEADERS), **(extra or {})},
        "additionalProperties": True,
    }


def _dlq_headers() -> dict[str, Any]:
    fields = DeadLetterInfo.model_json_schema(by_alias=True)
    extra: dict[str, Any] = {}
    for name in fields["properties"]:
        extra[DLQ_HEADER_PREFIX + name] = {
            "type": "string",
            "description": f"UTF-8: DeadLetterInfo.{name} (see components.schemas.DeadLetterInfo)",
        }
    schema = _headers(
        extra,
        description="The original record's headers, followed by Herald's herald-dlq-* headers "
        "(every value UTF-8).",
    )
    schema["required"] = [DLQ_HEADER_PREFIX + name for name in fields.get("required", [])]
    return schema


def _channel(
    address: str, setting: str, description: str, messages: list[str], settings: Settings
) -> dict[str, Any]:
    return {
        "address": address,
        "description": description,
        "x-herald-setting": setting,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        "bindings": {
            "kafka": {
                # A parameterised address (the delay topics) is several topics: no name.
                **({} if "{" in address else {"topic": address}),
                "partitions": settings.topic_partitions,
                "replicas": settings.topic_replication_factor,
                "bindingVersion": _BINDING,
            }
        },
    }


def asyncapi_document(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI 3.0 document for ``settings`` (topic names, partitions, group id)."""
    comp = _Components()
    key = {
        "type": "string",
        "description": "The tenant id (UTF-8). Herald re-keys a mis-keyed request by its "
        "tenantId; never assume a partition number (producers' partitioners differ).",
        "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
    }

    def message(
        title: str, payload: dict[str, Any], headers: dict[str, Any], summary: str
    ) -> dict[str, Any]:
        return {
            "name": title,
            "title": title,
            "summary": summary,
            "contentType": "application/json",
            "headers": headers,
            "payload": payload,
            "bindings": {"kafka": {"key": key, "bindingVersion": _BINDING}},
        }

    trace = _headers(description="Optional W3C trace context; other headers are ignored.")
    messages: dict[str, Any] = {
        "NotificationRequest": message(
            "NotificationRequest",
            comp.model(NotificationRequest, "validation"),
            trace,
            "One notification to deliver; (tenantId, id) is its idempotency key.",
        ),
        "StatusEvent": message(
            "StatusEvent",
            comp.model(StatusEvent, "serialization"),
            trace,
            "A status transition; de-duplicate on eventId (at-least-once).",
        ),
        "DeadLetter": {
            **message(
                "DeadLetter",
                {"description": "The original record's value, byte for byte (any bytes)."},
                _dlq_headers(),
                "Input Herald could not decode, unchanged, with the reason in its headers.",
            ),
            "contentType": "application/octet-stream",
        },
        "RetryEnvelope": message(
            "RetryEnvelope",
            comp.model(RetryEnvelope, "validation"),
            trace,
            "Internal: a request waiting for its next attempt on a delay topic.",
        ),
        "DispatchedRequest": message(
            "DispatchedRequest",
            comp.model(NotificationRequest, "serialization"),
            trace,
            "Internal: a request handed by the router to the WhatsApp Web session workers.",
        ),
        "QrCodeEvent": message(
            "QrCodeEvent",
            comp.model(QrCodeEvent, "serialization"),
            trace,
            "A WhatsApp Web session needs pairing.",
        ),
        "SessionStateEvent": message(
            "SessionStateEvent",
            comp.model(SessionStateEvent, "serialization"),
            trace,
            "A WhatsApp Web session's status (statusFind) or connection state.",
        ),
        "InboundMessage": message(
            "InboundMessage",
            comp.model(InboundMessage, "serialization"),
            trace,
            "A message received by a tenant's WhatsApp Web session.",
        ),
        "SessionCommand": message(
            "SessionCommand",
            comp.model(SessionCommand, "validation"),
            trace,
            "connect, disconnect, logout or status of a tenant's WhatsApp Web session.",
        ),
    }
    comp.model(DeadLetterInfo, "serialization")  # documented header values

    comp.resolve()
    s = settings
    tiers = [f"{t:g}" for t in s.retry_tier_seconds]
    channels: dict[str, Any] = {
        "requests": _channel(
            s.topic_requests,
            "HERALD_TOPIC_REQUESTS",
            "Notification requests, written by producers (herald_client, @herald/client).",
            ["NotificationRequest"],
            s,
        ),
        "status": _channel(
            s.topic_status,
            "HERALD_TOPIC_STATUS",
            "Status events of every notification: accepted or rejected, then sent or failed, "
            "then delivered and read where the channel reports them.",
            ["StatusEvent"],
            s,
        ),
        "deadLetters": _channel(
            s.topic_dlq,
            "HERALD_TOPIC_DLQ",
            "Undecodable requests and session commands, byte for byte.",
            ["DeadLetter"],
            s,
        ),
        "retry": {
            **_channel(
                s.topic_retry_prefix + "{tier}s",
                "HERALD_TOPIC_RETRY_PREFIX + HERALD_RETRY_TIERS",
                "Internal delay topics, one per retry tier: the router produces a request "
                "that must wait and consumes it again when due.",
                ["RetryEnvelope"],
                s,
            ),
            "parameters": {
                "tier": {"description": "Tier delay in seconds.", "enum": tiers},
            },
        },
        "whatsappDispatch": _channel(
            s.topic_whatsapp_dispatch,
            "HERALD_TOPIC_WHATSAPP_DISPATCH",
            "Internal: the router's hand-off to the WhatsApp Web session workers.",
            ["DispatchedRequest"],
            s,
        ),
        "whatsappQr": _channel(
            s.topic_whatsapp_qr,
            "HERALD_TOPIC_WHATSAPP_QR",
            "Pairing QR codes of WhatsApp Web sessions.",
            ["QrCodeEvent"],
            s,
        ),
        "whatsappState": _channel(
            s.topic_whatsapp_state,
            "HERALD_TOPIC_WHATSAPP_STATE",
            "WhatsApp Web session statuses and connection states.",
            ["SessionStateEvent"],
            s,
        ),
        "whatsappInbound": _channel(
            s.topic_whatsapp_inbound,
            "HERALD_TOPIC_WHATSAPP_INBOUND",
            "Messages received by WhatsApp Web sessions.",
            ["InboundMessage"],
            s,
        ),
        "whatsappCommands": _channel(
            s.topic_whatsapp_commands,
            "HERALD_TOPIC_WHATSAPP_COMMANDS",
            "Session commands, executed by the worker that owns the tenant's session.",
            ["SessionCommand"],
            s,
        ),
    }
    group = {"type": "string", "enum": [s.app_id]}

    def op(action: str, channel: str, message_name: str, summary: str) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": summary,
            "messages": [{"$ref": f"#/channels/{channel}/messages/{message_name}"}],
        }
        if action == "receive":
            operation["bindings"] = {"kafka": {"groupId": group, "bindingVersion": _BINDING}}
        return operation

    operations = {
        "receiveRequests": op(
            "receive", "requests", "NotificationRequest", "The router consumes requests."
        ),
        "forwardRequests": op(
            "send", "requests", "NotificationRequest", "The router re-keys a mis-keyed request."
        ),
        "sendStatus": op(
            "send", "status", "StatusEvent", "The router and the WhatsApp Web workers report."
        ),
        "sendDeadLetters": op(
            "send", "deadLetters", "DeadLetter", "Undecodable input goes to the dead letters."
        ),
        "sendRetry": op("send", "retry", "RetryEnvelope", "The router parks a request."),
        "receiveRetry": op("receive", "retry", "RetryEnvelope", "The router takes it back."),
        "sendWhatsappDispatch": op(
            "send", "whatsappDispatch", "DispatchedRequest", "The router hands off."
        ),
        "receiveWhatsappDispatch": op(
            "receive", "whatsappDispatch", "DispatchedRequest", "A session worker sends."
        ),
        "sendWhatsappQr": op("send", "whatsappQr", "QrCodeEvent", "Session workers publish."),
        "sendWhatsappState": op(
            "send", "whatsappState", "SessionStateEvent", "Session workers publish."
        ),
        "sendWhatsappInbound": op(
            "send", "whatsappInbound", "InboundMessage", "Session workers publish."
        ),
        "receiveWhatsappCommands": op(
            "receive", "whatsappCommands", "SessionCommand", "Session workers execute."
        ),
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Herald",
            "version": _herald_version(),
            "description": "Multi-tenant notification stream processor. Producers write "
            "NotificationRequest records keyed by tenant id; Herald writes StatusEvent records "
            "back. Values are JSON with camelCase names. Typed clients: herald_client (Python) "
            "and @herald/client (TypeScript).",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": s.kafka_bootstrap_servers.split(",")[0].strip(),
                "protocol": "kafka",
                "description": "KAFKA_BOOTSTRAP_SERVERS",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": comp.schemas, "messages": messages},
    }


def asyncapi_yaml(settings: Settings) -> str:
    return yaml.safe_dump(
        asyncapi_document(settings), sort_keys=False, allow_unicode=True, width=100
    )


def default_asyncapi_yaml() -> str:
    """docs/asyncapi.yaml: the document for the default settings, whatever the environment."""
    header = "# Generated by `herald asyncapi --defaults` from the pydantic models. Do not edit.\n"
    return header + asyncapi_yaml(Settings.model_construct())
