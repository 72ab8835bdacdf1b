"""Every settings field names its environment variable explicitly."""

from __future__ import annotations

from pydantic import AliasChoices
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Section", "env"]


def env(name: str) -> AliasChoices:
    """``validation_alias`` of a field read from the variable ``name`` (and nothing else)."""
    return AliasChoices(name)


class Section(BaseSettings):
    """Base of each concern's settings; ``schemas.settings.Settings`` composes them."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)
