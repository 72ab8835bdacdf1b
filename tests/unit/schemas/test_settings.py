"""Settings: env.example stays in step with the model; .env and environment are read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from schemas.settings import Settings
from streams.platform.embedded import settings_env, settings_env_names
from tests.helpers import make_settings, new_secret_key

ENV_EXAMPLE = Path(__file__).resolve().parents[3] / "env.example"
#: ``NAME=value`` (a default) or ``# NAME=...`` (listed, no default).
_ASSIGNMENT = re.compile(r"^(?P<commented>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def _env_example() -> tuple[dict[str, str], set[str]]:
    """(active assignments, names listed only as comments)."""
    active: dict[str, str] = {}
    commented: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match is None:
            continue
        name = match["name"]
        assert name not in active, f"{name} assigned twice in env.example"
        if match["commented"]:
            commented.add(name)
        else:
            active[name] = match["value"]
    return active, commented


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Herald variable from the caller's environment, no stray ``.env`` in the cwd."""
    for var in settings_env_names().values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def test_every_field_names_its_env_var_explicitly() -> None:
    missing = [n for n, f in Settings.model_fields.items() if f.validation_alias is None]
    assert missing == []
    names = list(settings_env_names().values())
    assert len(names) == len(set(names))


def test_env_example_lists_every_variable_and_nothing_else() -> None:
    active, commented = _env_example()
    assert active.keys() & commented == set()
    assert set(active) | commented == set(settings_env_names().values())


def test_env_example_comments_out_exactly_the_variables_without_default() -> None:
    _, commented = _env_example()
    names = settings_env_names()
    no_default = {names[n] for n, f in Settings.model_fields.items() if f.default is None}
    assert commented == no_default


def test_env_example_values_are_the_defaults() -> None:
    from_example = Settings(_env_file=ENV_EXAMPLE)
    assert from_example == Settings(_env_file=None)


def test_settings_read_dotenv_in_cwd(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("HERALD_APP_ID=from-dotenv\nLOG_LEVEL=debug\n")
    settings = Settings()
    assert settings.app_id == "from-dotenv"
    assert settings.log_level == "debug"


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("HERALD_APP_ID=from-dotenv\n")
    monkeypatch.setenv("HERALD_APP_ID", "from-env")
    assert Settings().app_id == "from-env"


@pytest.mark.parametrize("level", ["verbose", "INFO ", "trace", ""])
def test_unknown_log_level_rejected(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    monkeypatch.setenv("LOG_LEVEL", level)
    with pytest.raises(ValidationError, match=r"log_level|LOG_LEVEL"):
        Settings(_env_file=None)


def test_secret_key_is_never_shown() -> None:
    key = new_secret_key()
    settings = make_settings(secret_key=key)
    assert isinstance(settings.secret_key, SecretStr)
    assert key not in repr(settings)
    assert key not in str(settings.model_dump())


def test_settings_env_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    original = make_settings(
        secret_key=new_secret_key(),
        public_url="https://herald.example.com",
        topic_partitions=3,
        provider_timeout_seconds=2.5,
        log_format="text",
    )
    env = settings_env(original)
    assert "HERALD_PREVIOUS_SECRET_KEYS" not in env  # None is omitted, not "None"
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert Settings(_env_file=None) == original


def test_make_settings_gives_unique_topics_and_app_ids() -> None:
    first, second = make_settings(), make_settings()
    assert first.app_id != second.app_id
    assert set(first.all_topics).isdisjoint(second.all_topics)
    assert len(set(first.all_topics)) == len(first.all_topics)
