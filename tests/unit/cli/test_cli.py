"""The ``herald`` CLI: providers, schemas, keygen offline; seed and integrations on real Redis."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from streams.cli.errors import ExitCode
from streams.cli.main import main
from streams.platform.embedded import find_free_port
from streams.tenancy.crypto import decode_key
from tests.unit.cli.harness import run

SECRETS = ("EAAG-cli-access-token-77", "cli-app-secret-78", "cli-verify-token-79")
WA_CREDS = {
    "phoneNumberId": "2200002",
    "accessToken": SECRETS[0],
    "appSecret": SECRETS[1],
    "verifyToken": SECRETS[2],
}


@pytest.fixture
def redis_env(
    monkeypatch: pytest.MonkeyPatch, redis: aioredis.Redis, redis_url: str, test_secret_key: str
) -> None:
    """The CLI pointed at the session's Redis (flushed around the test when embedded)."""
    del redis  # requested for its flushing only
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("HERALD_SECRET_KEY", test_secret_key)


def test_keygen_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "keygen")
    assert code == 0
    assert len(decode_key(out.strip())) == 32
    assert run(capsys, "keygen")[1] != out


def test_providers_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "providers")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["CODE", "CHANNEL", "NAME"]
    assert len(lines) == 11
    wa = next(line for line in lines if line.startswith("whatsapp-business "))
    assert " implemented " in wa
    assert "phoneNumberId, accessToken, appSecret, verifyToken" in wa
    wpp = next(line for line in lines if line.startswith("wppconnect "))
    assert "sessionName, phoneNumberId" in wpp
    # All ten seed providers are implemented.
    assert all(" implemented " in line and "not implemented" not in line for line in lines[1:])


def test_providers_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "providers", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["code"] for r in rows] == [
        "sendgrid",
        "ses",
        "mailgun",
        "twilio",
        "sns",
        "firebase",
        "apn",
        "whatsapp-business",
        "wppconnect",
        "database",
    ]
    wa = next(r for r in rows if r["code"] == "whatsapp-business")
    assert wa["implemented"] is True
    assert wa["channel"] == "whatsapp"
    assert wa["displayName"] == "WhatsApp Business API"
    assert wa["reason"] is None
    assert "accessToken" in wa["requiredCredentials"]
    for row in rows:
        if not row["implemented"]:
            assert row["reason"]
            assert row["requiredCredentials"] == []


def test_schemas_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schemas")
    assert code == 0
    schemas = json.loads(out)
    for name in (
        "NotificationRequest",
        "StatusEvent",
        "DeadLetterInfo",
        "WhatsAppBusinessCredentials",
        "WPPConnectCredentials",
        "IntegrationSummary",
    ):
        assert schemas[name]["type"] == "object", name
    assert "tenantId" in schemas["NotificationRequest"]["properties"]
    assert "tenant_id" not in schemas["NotificationRequest"]["properties"]
    token = schemas["WhatsAppBusinessCredentials"]["properties"]["accessToken"]
    assert token["writeOnly"] is True


def test_schemas_to_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "out" / "schemas"
    code, out, _ = run(capsys, "schemas", "--out", str(out_dir))
    assert code == 0
    written = sorted(p.name for p in out_dir.iterdir())
    assert "StatusEvent.schema.json" in written
    assert len(out.splitlines()) == len(written)
    status = json.loads((out_dir / "StatusEvent.schema.json").read_text())
    assert "notificationId" in status["properties"]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["seed"],
        ["integrations"],
        ["integrations", "set"],
        ["integrations", "list"],
        ["integrations", "remove"],
        ["providers"],
        ["schemas"],
        ["keygen"],
    ],
)
def test_help_everywhere(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    assert "usage: herald" in capsys.readouterr().out


def test_invalid_configuration_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "loud")
    code, _, err = run(capsys, "providers")
    assert code == 2
    first, hint = err.strip().splitlines()
    assert first.startswith("herald: error: invalid configuration: LOG_LEVEL")
    assert hint.startswith("  hint: ")


def test_unreachable_redis_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://:hunter2@127.0.0.1:{find_free_port()}/0")
    code, _, err = run(capsys, "seed")
    assert code == 3
    assert err.startswith("herald: error: cannot reach Redis at redis://:***@127.0.0.1:")
    assert "hint: start redis-server" in err
    assert "hunter2" not in err
    assert "Traceback" not in err


@pytest.mark.integration
def test_seed_twice(capsys: pytest.CaptureFixture[str], redis_env: None) -> None:
    code, _, _ = run(capsys, "seed")
    assert code == 0
    code, out, _ = run(capsys, "seed", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["providers"] == {"created": 0, "updated": 0, "unchanged": 10}
    code, out, _ = run(capsys, "seed")
    assert code == 0
    assert out.splitlines()[-1].split() == ["total", "0", "0", "25"]


@pytest.mark.integration
def test_integrations_set_list_remove_never_show_secrets(
    capsys: pytest.CaptureFixture[str], redis_env: None, tmp_path: Path
) -> None:
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    creds_file = tmp_path / "creds.json"
    creds_file.write_text(json.dumps(WA_CREDS))
    outputs: list[str] = []

    def herald(*argv: str) -> tuple[int, str, str]:
        code, out, err = run(capsys, *argv)
        outputs.extend([out, err])
        return code, out, err

    code, out, _ = herald(
        "integrations", "set", "--tenant", tenant, "--provider", "whatsapp-business",
        "--credentials", f"@{creds_file}", "--default", "--priority", "7",
    )  # fmt: skip
    assert code == 0
    assert f"stored whatsapp-business for tenant {tenant}" in out

    code, out, _ = herald(
        "integrations", "set", "--system", "--provider", "whatsapp-business",
        "--credentials", json.dumps(WA_CREDS), "--inactive", "--json",
    )  # fmt: skip
    assert code == 0
    system = json.loads(out)
    assert system["tenantId"] == "_system"
    assert system["isActive"] is False
    assert "credentials" not in system

    code, out, _ = herald("integrations", "list", "--tenant", tenant, "--json")
    assert code == 0
    (listed,) = json.loads(out)
    assert listed["provider"] == "whatsapp-business"
    assert listed["isDefault"] is True
    assert listed["priority"] == 7
    assert listed["credentialFields"] == [
        "accessToken",
        "appSecret",
        "phoneNumberId",
        "verifyToken",
    ]

    code, out, _ = herald("integrations", "list", "--tenant", tenant)
    assert code == 0
    assert out.splitlines()[0].split()[:2] == ["PROVIDER", "CHANNEL"]
    assert "accessToken" in out

    code, out, _ = herald(
        "integrations", "remove", "--tenant", tenant, "--provider", "whatsapp-business"
    )
    assert code == 0
    code, _, err = herald(
        "integrations", "remove", "--tenant", tenant, "--provider", "whatsapp-business"
    )
    assert code == 1
    assert "no whatsapp-business integration" in err
    code, out, _ = herald("integrations", "list", "--tenant", tenant)
    assert code == 0
    assert "no integrations" in out
    assert herald("integrations", "remove", "--system", "--provider", "whatsapp-business")[0] == 0

    for text in outputs:
        for secret in SECRETS:
            assert secret not in text


def set_acme_whatsapp_business(
    capsys: pytest.CaptureFixture[str], credentials: dict[str, str]
) -> tuple[int, str, str]:
    """``herald integrations set`` of whatsapp-business ``credentials`` for cli-acme."""
    return run(
        capsys, "integrations", "set", "--tenant", "cli-acme", "--provider",
        "whatsapp-business", "--credentials", json.dumps(credentials),
    )  # fmt: skip


@pytest.mark.integration
def test_invalid_credentials_name_the_field(
    capsys: pytest.CaptureFixture[str], redis_env: None
) -> None:
    creds = {k: v for k, v in WA_CREDS.items() if k != "verifyToken"}
    code, out, err = set_acme_whatsapp_business(capsys, creds)
    assert code == 1
    assert err.strip() == (
        "herald: error: invalid whatsapp-business credentials: verifyToken: missing"
    )
    for secret in SECRETS:
        assert secret not in out + err


@pytest.mark.integration
@pytest.mark.parametrize(
    ("provider", "credentials", "expected"),
    [
        ("carrier-pigeon", "{}", "unknown provider 'carrier-pigeon'"),
        ("whatsapp-business", "{not json", "--credentials is not valid JSON"),
        ("whatsapp-business", "[1, 2]", "--credentials must be a JSON object"),
        ("whatsapp-business", "@/nonexistent/creds.json", "cannot read credentials file"),
    ],
)
def test_bad_input_is_one_clear_line(
    capsys: pytest.CaptureFixture[str],
    redis_env: None,
    provider: str,
    credentials: str,
    expected: str,
) -> None:
    code, _, err = run(
        capsys, "integrations", "set", "--tenant", "cli-acme", "--provider", provider,
        "--credentials", credentials,
    )  # fmt: skip
    assert code == 1
    assert expected in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.integration
def test_set_refuses_without_a_key(
    capsys: pytest.CaptureFixture[str], redis_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HERALD_SECRET_KEY")
    code, _, err = set_acme_whatsapp_business(capsys, WA_CREDS)
    assert code == 2
    assert "HERALD_SECRET_KEY is not set" in err
    assert "herald keygen" in err


@pytest.mark.integration
def test_set_rejects_a_bad_key(
    capsys: pytest.CaptureFixture[str], redis_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_SECRET_KEY", "c2hvcnQta2V5")  # base64 of "short-key"
    code, _, err = set_acme_whatsapp_business(capsys, WA_CREDS)
    assert code == 2
    assert "HERALD_SECRET_KEY must decode to 32 bytes" in err
    assert "c2hvcnQta2V5" not in err


def test_the_whatsapp_worker_refuses_to_start_without_the_secret_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its logins are sealed with the key (streams.whatsapp.sealed): no key, no worker."""
    monkeypatch.setenv("WHATSAPP_WPPCONNECT_ENABLED", "true")
    code, _, err = run(capsys, "worker", "whatsapp")
    assert code == ExitCode.USAGE
    assert "needs HERALD_SECRET_KEY" in err
