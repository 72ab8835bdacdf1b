"""What every provider's credentials model builds on, and the fields several share.

Each provider declares its own model in ``providers/<service>/_credentials.py`` (a
subclass of :class:`BaseCredentials` with ``provider_type: Literal["<code>"]``);
``schemas.credentials`` gathers them from the registry into the discriminated union.
Secrets are :class:`~pydantic.SecretStr`; validation errors never echo a value.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, ConfigDict, Field, SecretStr, StringConstraints

from schemas._base import WireModel

__all__ = [
    "BaseCredentials",
    "BaseEmailCredentials",
    "EmailAddress",
    "NonEmpty",
    "blank_to_none",
    "normalize_email",
    "unescape_pem",
]

NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class BaseCredentials(WireModel):
    """Common base; ``provider_type`` is the provider's lookup code."""

    model_config = ConfigDict(extra="forbid")

    provider_type: str
    #: The field naming one of several integrations of this provider for one tenant
    #: (wppconnect: ``session_name``); ``None``: one integration per tenant and provider.
    instance_field: ClassVar[str | None] = None

    def secret_fields(self) -> list[str]:
        return [name for name, value in self if isinstance(value, SecretStr)]


def normalize_email(value: str) -> str:
    """The address in ASCII form (IDN domains punycoded); ``ValueError`` when invalid.

    Strict: a dot in the domain, no SMTPUTF8 local parts (SES and most relays refuse them),
    no display name, no deliverability (DNS) check.
    """
    try:
        checked = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address ({exc})") from None
    return checked.ascii_email or checked.normalized


EmailAddress = Annotated[str, AfterValidator(normalize_email)]


def unescape_pem(value: Any) -> Any:
    """Keys pasted through environment variables often carry literal ``\\n``: unescape them."""
    if isinstance(value, str) and "\\n" in value and "-----BEGIN" in value:
        return value.replace("\\n", "\n")
    return value


def blank_to_none(value: object) -> object:
    """The seed's configuration spells "not set" as ``""``."""
    return None if isinstance(value, str) and not value.strip() else value


class BaseEmailCredentials(BaseCredentials):
    """What every email integration has (the seed's ``BaseEmailCredentials``)."""

    from_email: EmailAddress = Field(description="Sender address; must be verified at the service")
    from_name: NonEmpty = Field(description="Sender display name")
    reply_to: EmailAddress | None = None
