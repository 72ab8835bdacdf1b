"""The whatsapp-business provider's Graph error table, its fallbacks and its answers
(httpx.MockTransport)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from providers import (
    InvalidCredentials,
    PermanentError,
    ProviderError,
    RetryableError,
)
from providers.whatsapp_business import (
    GRAPH_ERRORS,
)
from tests.unit.providers.harness import (
    answering,
    assert_declared,
    fallback_test,
    refusal,
    transport_test,
)
from tests.unit.providers.test_whatsapp_business import (
    CONTENTS,
    PHONE_NUMBER_ID,
    RECIPIENT_DIGITS,
    TOKEN,
    make_request,
    offline_provider,
)

# --- the error table ------------------------------------------------------------------


def graph_error(code: int, status: int = 400, **headers: str) -> httpx.Response:
    body = {
        "error": {
            "message": f"(#{code}) Title",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": "Details."},
            "fbtrace_id": "Atrace",
        }
    }
    return httpx.Response(status, content=orjson.dumps(body), headers=headers)


async def send_against(response: httpx.Response | Exception) -> ProviderError:
    def check(request: httpx.Request) -> None:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.url.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"

    return await refusal(
        offline_provider(answering(response, check)), make_request(CONTENTS["text"])
    )


@pytest.mark.parametrize("code", sorted(GRAPH_ERRORS))
async def test_every_table_code_maps_as_declared(code: int) -> None:
    spec = GRAPH_ERRORS[code]
    error = await send_against(graph_error(code))
    assert_declared(error, spec)
    assert error.code == str(code)
    assert "Details." in error.message


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        (131026, 400, False),
        (131047, 400, False),
        (132000, 400, False),
        (190, 401, False),
        (130429, 400, True),
        (131056, 400, True),
        (999999, 400, False),  # unknown 4xx: permanent
        (999999, 503, True),  # unknown 5xx: retryable
        (999999, 429, True),
        (250, 403, False),  # 200-299: permission
    ],
)
async def test_documented_examples(code: int, status: int, retryable: bool) -> None:
    error = await send_against(graph_error(code, status))
    assert isinstance(error, RetryableError) == retryable
    assert isinstance(error, PermanentError) != retryable


async def test_invalid_token_is_invalid_credentials() -> None:
    error = await send_against(graph_error(190, 401))
    assert isinstance(error, InvalidCredentials)
    assert error.code == "190"


test_unreadable_bodies_fall_back_on_the_status = fallback_test(
    send_against,
    [
        (500, b"<html>", RetryableError, "provider_unavailable"),
        (502, b"", RetryableError, "provider_unavailable"),
        (429, b"slow down", RetryableError, "rate_limited"),
        (401, b"no", InvalidCredentials, "auth_failed"),
        (404, b"not found", PermanentError, "provider_error"),
        (400, b'{"error": "text"}', PermanentError, "provider_error"),
        (400, b'{"error": {"code": "x"}}', PermanentError, "provider_error"),
        (200, b"not json", RetryableError, "provider_unavailable"),
        (200, b"[]", RetryableError, "provider_unavailable"),
        (200, b'{"messages": []}', RetryableError, "provider_unavailable"),
        (200, b'{"messages": [{"id": 5}]}', RetryableError, "provider_unavailable"),
    ],
)


async def test_retry_after_is_read_from_the_header() -> None:
    error = await send_against(graph_error(130429, 429, **{"Retry-After": "3"}))
    assert isinstance(error, RetryableError)
    assert error.retry_after == 3
    error = await send_against(graph_error(130429, 429, **{"Retry-After": "soon"}))
    assert isinstance(error, RetryableError)
    assert error.retry_after is None


test_transport_errors_are_translated = transport_test(send_against)


async def test_success_returns_the_wamid() -> None:
    response = httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": RECIPIENT_DIGITS, "wa_id": RECIPIENT_DIGITS}],
            "messages": [{"id": "wamid.ABC="}],
        },
    )
    provider = offline_provider(lambda request: response)
    result = await provider.send(make_request(CONTENTS["text"]))
    assert result.provider_message_id == "wamid.ABC="
    assert result.metadata == {"type": "text", "wa_id": RECIPIENT_DIGITS}
