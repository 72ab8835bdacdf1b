"""Inputs and names (issue #18, section 4): each test sends the hostile input."""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path

import orjson
import pytest
import zstandard

from providers._email import email_message
from providers._phone import sanitize_phone
from providers._sms import e164, normalize_sender
from providers.database import Cursor, InvalidCursor
from providers.errors import as_int
from providers.twilio._webhook import MalformedCallback, parse_status_callback
from providers.wppconnect._payload import to_wid
from schemas import DeadLetterReason, NotificationRequest
from schemas._base import is_tenant_id
from schemas.errors import InvalidRequest
from streams.pipeline.decode import DeadLetter, RawRecord, decode
from streams.tenancy.integrations import InvalidTenantId, _check_tenant
from streams.whatsapp import decode_command
from streams.whatsapp.archive import pack, unpack

# --- tenant ids ---------------------------------------------------------------------------

HOSTILE_TENANTS = ["acme\n", "acme\r\n", "\nacme", "acme\x00", "acme ", "acme/..", "acme\u2028"]


@pytest.mark.parametrize("tenant", HOSTILE_TENANTS)
def test_tenant_id_is_matched_in_full(tenant: str) -> None:
    assert is_tenant_id("acme")
    assert is_tenant_id("a.b:c-d_1")
    assert not is_tenant_id(tenant)


@pytest.mark.parametrize("tenant", HOSTILE_TENANTS)
def test_a_request_for_tenant_acme_newline_goes_to_the_dlq(tenant: str) -> None:
    value = orjson.dumps(
        {
            "id": "n-1",
            "tenantId": tenant,
            "channel": "sms",
            "recipient": {"phone": "+5511999990000"},
            "content": {"body": "hi"},
        }
    )
    out = decode(
        RawRecord(key=b"acme", value=value, topic="t", partition=0, offset=1), max_bytes=1 << 20
    )
    assert isinstance(out, DeadLetter)
    assert out.info.reason is DeadLetterReason.INVALID_TENANT


@pytest.mark.parametrize("tenant", HOSTILE_TENANTS)
def test_other_tenant_checks_refuse_a_trailing_newline(tenant: str) -> None:
    command = orjson.dumps({"tenantId": tenant, "command": "connect"})
    out = decode_command(RawRecord(key=b"x", value=command, topic="c", partition=0, offset=0))
    assert isinstance(out, DeadLetter)
    assert out.info.reason is DeadLetterReason.INVALID_TENANT
    with pytest.raises(InvalidTenantId):
        _check_tenant(tenant)


# --- phone numbers ------------------------------------------------------------------------

ARABIC_INDIC = "\u0665\u0665\u0661\u0661\u0669\u0669\u0669\u0669\u0669\u0660\u0660\u0660\u0660"


@pytest.mark.parametrize(
    "phone",
    [
        "call me 5511999990000 now",
        ARABIC_INDIC,  # "5511999990000" in Arabic-Indic digits
        "+" + ARABIC_INDIC,
        "\uff15\uff15\uff11\uff11\uff19\uff19\uff19\uff19\uff19\uff10\uff10\uff10\uff10",  # fullwidth
        "5511999990000\n",
        "55\t11 99999 0000",
        "55/11/99999/0000",
        "55 11 9999\u00a09000",  # no-break space
        "55+11999990000",
        "tel:+5511999990000",
    ],
)
def test_phone_numbers_refuse_words_and_foreign_digits(phone: str) -> None:
    for check in (sanitize_phone, e164, to_wid):
        with pytest.raises(InvalidRequest) as caught:
            check(phone)
        assert caught.value.code == "invalid_recipient"


@pytest.mark.parametrize(
    "phone", ["+55 (11) 99999-0000", "55.11.99999.0000", "+5511999990000", " 5511999990000 "]
)
def test_human_spellings_of_a_number_still_pass(phone: str) -> None:
    assert sanitize_phone(phone) == "5511999990000"
    assert e164(phone) == "+5511999990000"


def test_a_sender_with_foreign_digits_is_not_taken_for_a_number() -> None:
    assert normalize_sender("+55 11 99999-0000") == "+5511999990000"
    assert normalize_sender("+" + ARABIC_INDIC) == "+" + ARABIC_INDIC  # passed as it is


def test_digit_strings_from_other_scripts_are_not_ints() -> None:
    assert as_int("42") == 42
    assert as_int("\u0664\u0662") is None  # Arabic-Indic "42"
    assert as_int("\u00b2") is None  # superscript two: isdigit() but int() raises


# --- inbox cursor -------------------------------------------------------------------------


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "raw",
    [
        b'["v1", "2026-01-01T00:00:00+00:00", 18446744073709551615]',  # 2**64 - 1
        b'["v1", "2026-01-01T00:00:00+00:00", 9223372036854775808]',  # 2**63
        b'["v1", "2026-01-01T00:00:00+00:00", 0]',
        b'["v1", "2026-01-01T00:00:00+00:00", -1]',
        b'["v1", "9999-12-31T23:59:59-10:00", 5]',  # overflows when moved to UTC
        b'["v1", "0001-01-01T00:00:00+10:00", 5]',
    ],
)
def test_a_forged_cursor_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidCursor):
        Cursor.decode(_token(raw))


def test_the_largest_row_id_still_decodes() -> None:
    cursor = Cursor.decode(_token(b'["v1", "2026-01-01T00:00:00+00:00", 9223372036854775807]'))
    assert cursor.id == 2**63 - 1


# --- email subjects -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject", ["a\u2028Bcc: x@evil.example", "a\u2029b", "a\x85b", "a\x0bb", "a\x0cb", "a\x00b"]
)
def test_email_subjects_refuse_every_line_separator(subject: str) -> None:
    request = NotificationRequest.model_validate(
        {
            "id": "n-1",
            "tenantId": "acme",
            "channel": "email",
            "recipient": {"email": "ana@customer.example"},
            "content": {"subject": subject, "body": "x"},
        }
    )
    with pytest.raises(InvalidRequest) as caught:
        email_message(request)
    assert caught.value.code == "invalid_request"


# --- WhatsApp restore staging -------------------------------------------------------------


def test_restoring_a_profile_leaves_the_tenant_x_restoring_alone(tmp_path: Path) -> None:
    """Restoring tenant ``X`` once staged in ``tenant-X.restoring``, the profile folder of
    the valid tenant ``X.restoring``, and deleted it first."""
    assert is_tenant_id("acme.restoring")
    source = tmp_path / "source"
    (source / "Local Storage").mkdir(parents=True)
    (source / "Local Storage" / "leveldb").write_bytes(b"acme's login")
    archive = pack(source).data
    tokens = tmp_path / "tokens"
    neighbour = tokens / "tenant-acme.restoring"
    neighbour.mkdir(parents=True)
    (neighbour / "Preferences").write_bytes(b"the other tenant's login")

    assert unpack(archive, tokens / "tenant-acme") == 1
    assert (neighbour / "Preferences").read_bytes() == b"the other tenant's login"
    assert (tokens / "tenant-acme" / "Local Storage" / "leveldb").read_bytes() == b"acme's login"
    assert sorted(p.name for p in tokens.iterdir()) == ["tenant-acme", "tenant-acme.restoring"]
    assert (tokens / "tenant-acme").stat().st_mode & 0o777 == 0o700


def test_a_failed_restore_leaves_no_staging_folder(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("ok")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    truncated = zstandard.ZstdCompressor().compress(buffer.getvalue()[:700])
    tokens = tmp_path / "tokens"
    with pytest.raises(tarfile.TarError):
        unpack(truncated, tokens / "tenant-acme")
    assert list(tokens.iterdir()) == []


def test_a_twilio_error_code_in_other_digits_is_malformed_not_a_crash() -> None:
    """``"²".isdigit()`` is true but ``int("²")`` raises: the callback was a 500."""
    params = [
        ("MessageSid", "SM" + "a" * 32),
        ("MessageStatus", "failed"),
        ("AccountSid", "AC" + "b" * 32),
    ]
    for code in ("\u00b2", "\u0663\u0660\u0660\u0660\u0667"):  # superscript 2, Arabic-Indic 30007
        with pytest.raises(MalformedCallback):
            parse_status_callback([*params, ("ErrorCode", code)])
    parsed = parse_status_callback([*params, ("ErrorCode", "30007")])
    assert parsed is not None
    assert parsed.error is not None
    assert parsed.error.code == "30007"
