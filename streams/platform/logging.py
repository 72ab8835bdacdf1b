"""Logging setup: one JSON object per line (``LOG_FORMAT=json``) or readable text.

Each JSON line has ``ts``, ``level``, ``logger``, ``msg`` and every ``extra={...}`` field
(``tenant_id``, ``notification_id``, ``provider``...); exceptions go to ``exc``.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from schemas.settings import Settings

__all__ = [
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "logging_dict_config",
    "record_extras",
]

#: Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record_extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = record_extras(record)
        if extras:
            text += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return text


class _HeraldHandler(logging.StreamHandler[TextIO]):
    """Marker type, so that reconfiguring replaces Herald's handler and nothing else."""


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Install Herald's handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _HeraldHandler)]:
        root.removeHandler(handler)
    handler = _HeraldHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(_LEVELS[settings.log_level])


def logging_dict_config(settings: Settings) -> dict[str, Any]:
    """The same setup as :func:`configure_logging`, as a :func:`logging.config.dictConfig` dict.

    For frameworks that configure logging themselves (the Faust worker's ``logging_config``).
    """
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"herald": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "herald": {
                "class": f"{__name__}.{_HeraldHandler.__name__}",
                "formatter": "herald",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {
            "level": logging.getLevelName(_LEVELS[settings.log_level]),
            "handlers": ["herald"],
        },
    }
