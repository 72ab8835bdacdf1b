"""What a WhatsApp Web session loads: the wa-js bundle and, when pinned, the WhatsApp Web
build, both fetched from the npm registry by ``herald whatsapp install`` into a cache."""

from __future__ import annotations

from pydantic import Field, field_validator

from schemas.settings._env import Section, env

__all__ = ["WhatsAppAssetsSettings"]

#: providers.wppconnect's WAJS_VERSION (the bridge's contract; a test keeps the two equal).
DEFAULT_WAJS_VERSION = "4.6.0"


class WhatsAppAssetsSettings(Section):
    """wa-js and the pinned WhatsApp Web build (docs/whatsapp-web.md#version-pinning)."""

    whatsapp_web_version: str | None = Field(
        None,
        pattern=r"^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$",
        validation_alias=env("WHATSAPP_WEB_VERSION"),
        description="Pin the WhatsApp Web build every session loads (a build of the npm package @wppconnect/wa-version, e.g. 2.3000.1048032155-alpha): its HTML is served in place of WHATSAPP_WEB_URL's page. Unset: whatever WhatsApp serves. `herald whatsapp install` fetches it.",
    )
    whatsapp_web_version_package: str = Field(
        "latest",
        min_length=1,
        validation_alias=env("WHATSAPP_WEB_VERSION_PACKAGE"),
        description="Version or dist-tag of @wppconnect/wa-version that `herald whatsapp install` takes the pinned WhatsApp Web build from (builds expire from the package after about two months: pin a package version for reproducible installs).",
    )
    wppconnect_wajs_version: str = Field(
        DEFAULT_WAJS_VERSION,
        pattern=r"^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$",
        validation_alias=env("WHATSAPP_WPPCONNECT_WAJS_VERSION"),
        description="Version of @wppconnect/wa-js that `herald whatsapp install` fetches and the worker injects. The bridge is checked against the default; another version is at your own risk.",
    )
    whatsapp_cache_dir: str | None = Field(
        None,
        validation_alias=env("WHATSAPP_CACHE_DIR"),
        description="Where `herald whatsapp install` puts wa-js and WhatsApp Web builds, and where the worker looks for them. Unset: the user cache ($XDG_CACHE_HOME/herald, else ~/.cache/herald).",
    )
    whatsapp_npm_registry: str = Field(
        "https://registry.npmjs.org",
        validation_alias=env("WHATSAPP_NPM_REGISTRY"),
        description="The npm registry `herald whatsapp install` downloads from (a mirror works; every tarball's sha512 integrity is checked).",
    )

    @field_validator("whatsapp_web_version", "whatsapp_cache_dir", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """``WHATSAPP_WEB_VERSION=`` (an empty build argument, say) means not pinned."""
        return None if isinstance(value, str) and not value.strip() else value
