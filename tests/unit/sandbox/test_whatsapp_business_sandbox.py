"""The fake Graph API: auth and shape checks, faults, signed webhooks, control endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from providers.whatsapp_business import (
    SIGNATURE_HEADER,
    parse_statuses,
    verify_signature,
)
from sandbox import GRAPH_VERSION, WhatsAppBusinessSandbox, serve_app
from schemas.status import Status
from tests.unit.sandbox.receiver import Receiver

NUMBER_ID = "106540352242922"
TOKEN = "EAAG-token"
SECRET = "app-secret"
TO = "+1 650-555-1234"
WA_ID = "16505551234"


@dataclass
class Env:
    sandbox: WhatsAppBusinessSandbox
    http: httpx.AsyncClient
    url: str
    receiver: Receiver

    @property
    def messages_url(self) -> str:
        return f"{self.url}/{GRAPH_VERSION}/{NUMBER_ID}/messages"

    async def send(self, body: dict[str, Any], token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(self.messages_url, json=body, headers=headers)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    receiver = Receiver("/hook")
    sandbox = WhatsAppBusinessSandbox(auto_status_delay=0.01)
    async with serve_app(receiver.app) as hook_url, serve_app(sandbox.app) as url:
        receiver.url = f"{hook_url}/hook"
        sandbox.add_account(
            NUMBER_ID, access_token=TOKEN, app_secret=SECRET, webhook_url=receiver.url
        )
        async with httpx.AsyncClient(timeout=5) as http:
            yield Env(sandbox, http, url, receiver)


def text(body: str = "hi", to: str = TO) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
    }


def assert_graph_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["type"], str)
    assert isinstance(error["fbtrace_id"], str)
    return dict(error)


# --- the Graph API ------------------------------------------------------------------------


async def test_accepts_a_message_and_answers_like_graph(env: Env) -> None:
    response = await env.send(text())
    assert response.status_code == 200
    data = response.json()
    assert data["messaging_product"] == "whatsapp"
    assert data["contacts"] == [{"input": TO, "wa_id": WA_ID}]
    wamid = data["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    (sent,) = env.sandbox.messages
    assert (sent.wamid, sent.to, sent.wa_id, sent.type) == (wamid, TO, WA_ID, "text")
    again = await env.send(text())
    assert again.json()["messages"][0]["id"] != wamid


@pytest.mark.parametrize("version", ["v19.0", "v23.0", "v24.0"])
async def test_any_graph_version_is_served(env: Env, version: str) -> None:
    url = f"{env.url}/{version}/{NUMBER_ID}/messages"
    response = await env.http.post(url, json=text(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


async def test_unknown_paths_get_a_graph_error(env: Env) -> None:
    response = await env.http.post(f"{env.url}/messages", json=text())
    assert_graph_error(response, 400, 2500)


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_missing_or_wrong_token_is_401_code_190(env: Env, token: str | None) -> None:
    error = assert_graph_error(await env.send(text(), token=token), 401, 190)
    assert error["type"] == "OAuthException"
    assert env.sandbox.messages == []


async def test_token_of_another_number_is_unknown_object(env: Env) -> None:
    env.sandbox.add_account("999", access_token="other", app_secret="x")
    error = assert_graph_error(await env.send(text(), token="other"), 400, 100)
    assert error["error_subcode"] == 33
    unknown = f"{env.url}/{GRAPH_VERSION}/123/messages"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert_graph_error(await env.http.post(unknown, json=text(), headers=headers), 400, 100)


def _without(key: str) -> dict[str, Any]:
    body = text()
    del body[key]
    return body


@pytest.mark.parametrize(
    "body",
    [
        _without("messaging_product"),
        {**text(), "messaging_product": "sms"},
        _without("to"),
        {**text(), "to": "call me"},
        {**text(), "recipient_type": "broadcast"},
        {**text(), "type": "fax"},
        _without("text"),
        {**text(), "text": "hi"},
        {**text(), "text": {}},
        {**text(), "text": {"body": "x" * 4097}},
        {**text(), "text": {"body": "hi", "bold": True}},
        {**text(), "type": "audio", "audio": {"link": "https://x.io/a.ogg", "caption": "c"}},
        {**text(), "type": "image", "image": {"link": "https://x.io/a", "id": "1"}},
        {**text(), "type": "image", "image": {"caption": "no source"}},
        {**text(), "type": "image", "image": {"link": "file:///etc/passwd"}},
        {**text(), "type": "image", "image": {"id": "404"}},
        {**text(), "type": "location", "location": {"latitude": 91, "longitude": 0}},
        {**text(), "type": "location", "location": {"latitude": "north", "longitude": 0}},
        {**text(), "type": "location", "location": {"longitude": 0}},
        {**text(), "type": "contacts", "contacts": []},
        {**text(), "type": "contacts", "contacts": [{"name": {"first_name": "A"}}]},
        {**text(), "type": "contacts", "contacts": [{"name": {"formatted_name": "A"}}]},
        [text()],
    ],
)
async def test_malformed_bodies_are_400_code_100(env: Env, body: Any) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = await env.http.post(env.messages_url, json=body, headers=headers)
    assert_graph_error(response, 400, 100)
    assert env.sandbox.messages == []


async def test_a_body_that_is_not_json_is_400(env: Env) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    response = await env.http.post(env.messages_url, content=b"{oops", headers=headers)
    assert_graph_error(response, 400, 100)


async def test_type_defaults_to_text(env: Env) -> None:
    body = text()
    del body["type"]
    assert (await env.send(body)).status_code == 200


async def test_media_upload_then_send_by_id(env: Env) -> None:
    url = f"{env.url}/{GRAPH_VERSION}/{NUMBER_ID}/media"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    files = {"file": ("a.png", b"\x89PNG....", "image/png")}
    data = {"messaging_product": "whatsapp", "type": "image/png"}
    response = await env.http.post(url, headers=headers, files=files, data=data)
    assert response.status_code == 200
    media_id = response.json()["id"]
    assert media_id.isdigit()
    upload = env.sandbox.uploads[media_id]
    assert (upload.mime_type, upload.filename) == ("image/png", "a.png")
    assert upload.data == b"\x89PNG...."
    body = {**text(), "type": "image", "image": {"id": media_id, "caption": "c"}}
    assert (await env.send(body)).status_code == 200

    missing_product = await env.http.post(url, headers=headers, files=files)
    assert_graph_error(missing_product, 400, 100)
    exe = {"file": ("a.exe", b"MZ", "application/x-msdownload")}
    bad_type = await env.http.post(url, headers=headers, files=exe, data=data | {"type": ""})
    assert_graph_error(bad_type, 400, 131053)
    as_json = await env.http.post(url, headers=headers, json={"messaging_product": "whatsapp"})
    assert_graph_error(as_json, 400, 100)
    assert_graph_error(await env.http.post(url, files=files, data=data), 401, 190)


# --- faults -------------------------------------------------------------------------------


async def test_graph_error_fault_with_retry_after_and_times(env: Env) -> None:
    env.sandbox.fail(WA_ID, 130429, message="(#130429) Rate limit hit", retry_after=2, times=1)
    response = await env.send(text())
    assert_graph_error(response, 400, 130429)
    assert response.headers["Retry-After"] == "2"
    assert (await env.send(text())).status_code == 200  # times=1: used up
    assert len(env.sandbox.messages) == 1


async def test_faults_are_per_recipient(env: Env) -> None:
    env.sandbox.fail(TO, 131026, http_status=400)
    assert_graph_error(await env.send(text()), 400, 131026)
    assert (await env.send(text(to="+44 7700 900123"))).status_code == 200


async def test_garbage_fault(env: Env) -> None:
    env.sandbox.garble(TO, http_status=502, body=b"<html>Bad gateway</html>")
    response = await env.send(text())
    assert (response.status_code, response.content) == (502, b"<html>Bad gateway</html>")


async def test_a_delay_fault_answers_late_then_normally(env: Env) -> None:
    env.sandbox.hang(TO, seconds=0.2)
    with pytest.raises(httpx.ReadTimeout):
        await env.http.post(
            env.messages_url,
            json=text(),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=0.05,
        )
    response = await env.send(text())
    assert response.status_code == 200


# --- webhooks -----------------------------------------------------------------------------


async def test_status_webhooks_are_signed_and_shaped_like_meta(env: Env) -> None:
    wamid = (await env.send(text())).json()["messages"][0]["id"]
    assert await env.sandbox.post_status(wamid, "sent") == 200
    got = await env.receiver.next()
    assert got.headers["Content-Type"] == "application/json"
    assert verify_signature(got.body, got.headers[SIGNATURE_HEADER], SECRET)
    (status,) = parse_statuses(orjson.loads(got.body))
    assert (status.provider_message_id, status.status) == (wamid, Status.SENT)
    assert (status.phone_number_id, status.recipient_id) == (NUMBER_ID, WA_ID)
    item = orjson.loads(got.body)["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert item["timestamp"].isdigit()
    assert {"conversation", "pricing"} <= set(item)


async def test_failed_webhook_carries_errors(env: Env) -> None:
    wamid = (await env.send(text())).json()["messages"][0]["id"]
    await env.sandbox.post_status(wamid, "failed")
    got = await env.receiver.next()
    (status,) = parse_statuses(orjson.loads(got.body))
    assert status.status is Status.FAILED
    assert status.error is not None
    assert status.error.code == "131026"


async def test_wrong_or_missing_signature_on_request(env: Env) -> None:
    wamid = (await env.send(text())).json()["messages"][0]["id"]
    await env.sandbox.post_status(wamid, "delivered", sign_with="not-the-secret")
    got = await env.receiver.next()
    assert not verify_signature(got.body, got.headers[SIGNATURE_HEADER], SECRET)
    await env.sandbox.post_status(wamid, "read", unsigned=True)
    got = await env.receiver.next()
    assert SIGNATURE_HEADER not in got.headers


async def test_statuses_for_unknown_wamids_need_a_number(env: Env) -> None:
    with pytest.raises(LookupError):
        await env.sandbox.post_status("wamid.unknown", "sent")
    await env.sandbox.post_status(
        "wamid.unknown", "read", phone_number_id=NUMBER_ID, recipient_id=WA_ID
    )
    got = await env.receiver.next()
    (status,) = parse_statuses(orjson.loads(got.body))
    assert status.provider_message_id == "wamid.unknown"


async def test_auto_statuses_follow_each_message_in_order(env: Env) -> None:
    env.sandbox.add_account(
        NUMBER_ID,
        access_token=TOKEN,
        app_secret=SECRET,
        webhook_url=env.receiver.url,
        auto_statuses=("sent", "delivered", "read"),
    )
    wamid = (await env.send(text())).json()["messages"][0]["id"]
    seen = []
    for _ in range(3):
        got = await env.receiver.next()
        assert verify_signature(got.body, got.headers[SIGNATURE_HEADER], SECRET)
        (status,) = parse_statuses(orjson.loads(got.body))
        assert status.provider_message_id == wamid
        seen.append(status.status)
    assert seen == [Status.SENT, Status.DELIVERED, Status.READ]


# --- control endpoints ---------------------------------------------------------------------


async def test_control_endpoints_mirror_the_python_api(env: Env) -> None:
    control = f"{env.url}/_sandbox"
    account = {
        "phoneNumberId": "555",
        "accessToken": "t-555",
        "appSecret": "s-555",
        "webhookUrl": env.receiver.url,
    }
    assert (await env.http.post(f"{control}/accounts", json=account)).status_code == 201
    accounts = (await env.http.get(f"{control}/accounts")).json()["accounts"]
    assert {a["phoneNumberId"] for a in accounts} == {NUMBER_ID, "555"}
    assert all("accessToken" not in a and "appSecret" not in a for a in accounts)

    url = f"{env.url}/{GRAPH_VERSION}/555/messages"
    ok = await env.http.post(url, json=text(), headers={"Authorization": "Bearer t-555"})
    wamid = ok.json()["messages"][0]["id"]
    listed = (await env.http.get(f"{control}/messages", params={"to": TO})).json()["messages"]
    assert [(m["wamid"], m["phoneNumberId"], m["type"]) for m in listed] == [(wamid, "555", "text")]
    assert listed[0]["body"] == text()

    fault = {"to": TO, "code": 131047, "message": "(#131047) Re-engagement message"}
    assert (await env.http.post(f"{control}/faults", json=fault)).status_code == 201
    refused = await env.http.post(url, json=text(), headers={"Authorization": "Bearer t-555"})
    assert_graph_error(refused, 400, 131047)
    assert (await env.http.delete(f"{control}/faults")).status_code == 204

    posted = await env.http.post(f"{control}/statuses", json={"wamid": wamid, "status": "read"})
    assert posted.json() == {"webhookStatus": 200}
    got = await env.receiver.next()
    assert verify_signature(got.body, got.headers[SIGNATURE_HEADER], "s-555")
    hooks = (await env.http.get(f"{control}/webhooks")).json()["webhooks"]
    assert [h["httpStatus"] for h in hooks] == [200]

    unknown = await env.http.post(f"{control}/statuses", json={"wamid": "x", "status": "read"})
    assert unknown.status_code == 404
    invalid = await env.http.post(f"{control}/accounts", json={"phoneNumberId": "1"})
    assert invalid.status_code == 400
    assert (await env.http.delete(f"{control}/messages")).status_code == 204
    assert (await env.http.get(f"{control}/messages")).json() == {"messages": []}


async def test_hang_fault_via_control_is_released_on_shutdown() -> None:
    sandbox = WhatsAppBusinessSandbox()
    sandbox.add_account(NUMBER_ID, access_token=TOKEN, app_secret=SECRET)
    async with httpx.AsyncClient(timeout=5) as http:
        async with serve_app(sandbox.app) as url:
            fault = {"to": TO, "hang": True}
            assert (await http.post(f"{url}/_sandbox/faults", json=fault)).status_code == 201
            pending = asyncio.ensure_future(
                http.post(
                    f"{url}/{GRAPH_VERSION}/{NUMBER_ID}/messages",
                    json=text(),
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
            )
            async with asyncio.timeout(5):
                await sandbox.wait_for(lambda: sandbox.held == 1)
            assert not pending.done()
        # leaving serve_app released the handler: the client gets an answer or a close
        async with asyncio.timeout(5):
            try:
                response = await pending
                assert response.status_code == 503
            except httpx.HTTPError:
                pass


async def test_a_control_fault_with_nothing_but_a_recipient_is_graph_error_131000(
    env: Env,
) -> None:
    assert (await env.http.post(f"{env.url}/_sandbox/faults", json={"to": TO})).status_code == 201
    assert_graph_error(await env.send(text()), 400, 131000)
    assert (await env.send(text())).status_code == 400  # no ``times``: every request
    assert (await env.http.delete(f"{env.url}/_sandbox/faults")).status_code == 204
    assert (await env.send(text())).status_code == 200
