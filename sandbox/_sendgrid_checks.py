"""SendGrid's Mail Send validation, as the SendGrid fake applies it (pure functions).

Messages, fields and help links follow SendGrid's documented Mail Send errors; every
error is reported at once, as SendGrid does.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sandbox._base import email_address

__all__ = ["error", "validate"]

_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"


def error(message: str, field: str | None = None, help_: str | None = None) -> dict[str, Any]:
    return {"message": message, "field": field, "help": help_}


def _valid(address: Any) -> bool:
    if not isinstance(address, str):
        return False
    try:
        email_address(address)
    except ValueError:
        return False
    return True


def validate(body: dict[str, Any]) -> list[dict[str, Any]]:
    """SendGrid's Mail Send validation (the subset Herald can trip), all errors at once."""
    errors: list[dict[str, Any]] = []
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        errors.append(
            error(
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                f"{_HELP}#-Personalizations-Errors",
            )
        )
    else:
        for i, item in enumerate(personalizations):
            to = item.get("to") if isinstance(item, dict) else None
            if not isinstance(to, list) or not to:
                errors.append(
                    error(
                        "The to array is required for all personalization objects, and must "
                        "have at least one email object with a valid email address.",
                        f"personalizations.{i}.to",
                        f"{_HELP}#message.personalizations.to",
                    )
                )
                continue
            for j, recipient in enumerate(to):
                if not isinstance(recipient, dict) or not _valid(recipient.get("email")):
                    errors.append(
                        error(
                            "Does not contain a valid address.",
                            f"personalizations.{i}.to.{j}.email",
                            f"{_HELP}#message.personalizations.to",
                        )
                    )
    sender = body.get("from")
    if not isinstance(sender, dict) or "email" not in sender:
        errors.append(
            error(
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.",
                "from",
                f"{_HELP}#message.from",
            )
        )
    elif not _valid(sender.get("email")):
        errors.append(
            error(
                "The from email does not contain a valid address.",
                "from.email",
                f"{_HELP}#message.from",
            )
        )
    reply_to = body.get("reply_to")
    if reply_to is not None and (
        not isinstance(reply_to, dict) or not _valid(reply_to.get("email"))
    ):
        errors.append(
            error(
                "The reply_to email does not contain a valid address.",
                "reply_to.email",
                f"{_HELP}#message.reply_to",
            )
        )
    subject = body.get("subject")
    if not isinstance(subject, str) or not subject:
        errors.append(
            error(
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
                f"{_HELP}#message.subject",
            )
        )
    errors.extend(_validate_content(body.get("content")))
    errors.extend(_validate_attachments(body.get("attachments")))
    custom_args = body.get("custom_args")
    if custom_args is not None and (
        not isinstance(custom_args, dict)
        or not all(isinstance(v, str) for v in custom_args.values())
    ):
        errors.append(
            error("Invalid type. Expected: string.", "custom_args", f"{_HELP}#message.custom_args")
        )
    return errors


def _validate_content(content: Any) -> list[dict[str, Any]]:
    help_ = f"{_HELP}#message.content"
    if not isinstance(content, list) or not content:
        return [
            error(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block. We typically suggest both "
                "text/plain and text/html blocks are included, but only one block is required.",
                "content",
                help_,
            )
        ]
    errors = []
    types = []
    for i, block in enumerate(content):
        value = block.get("value") if isinstance(block, dict) else None
        kind = block.get("type") if isinstance(block, dict) else None
        if not isinstance(kind, str) or not kind:
            errors.append(error("The content type is required.", f"content.{i}.type", help_))
        if not isinstance(value, str) or not value:
            errors.append(
                error(
                    "The content value must be a string at least one character in length.",
                    f"content.{i}.value",
                    help_,
                )
            )
        types.append(kind)
    order = [t for t in types if t in ("text/plain", "text/html")]
    if ("text/plain" in types and types[0] != "text/plain") or order not in (
        [],
        ["text/plain"],
        ["text/html"],
        ["text/plain", "text/html"],
    ):
        errors.append(
            error(
                "If present, text/plain content must be first, followed by text/html, followed "
                "by any other content.",
                "content",
                help_,
            )
        )
    return errors


def _validate_attachments(attachments: Any) -> list[dict[str, Any]]:
    if attachments is None:
        return []
    help_ = f"{_HELP}#message.attachments"
    if not isinstance(attachments, list):
        return [error("Invalid type. Expected: array.", "attachments", help_)]
    errors = []
    for i, item in enumerate(attachments):
        item = item if isinstance(item, dict) else {}
        content = item.get("content")
        try:
            ok = isinstance(content, str) and bool(base64.b64decode(content, validate=True))
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            errors.append(
                error(
                    "The attachment content must be base64 encoded.",
                    f"attachments.{i}.content",
                    help_,
                )
            )
        if not isinstance(item.get("filename"), str) or not item.get("filename"):
            errors.append(
                error(
                    "The attachment filename parameter is required.",
                    f"attachments.{i}.filename",
                    help_,
                )
            )
    return errors
