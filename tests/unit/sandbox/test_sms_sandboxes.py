"""The Twilio and SNS fakes themselves: signed status callbacks, control endpoints, and
``herald sandbox twilio|sns``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from providers.sns import encode_form, parse_message_id, publish_params, sign
from providers.twilio import SIGNATURE_HEADER, parse_status_callback, verify_signature
from sandbox import serve_app
from sandbox.sns import SNSSandbox
from sandbox.twilio import TwilioSandbox
from schemas.status import Status
from streams.cli.main import build_parser
from tests.unit.sandbox.receiver import Receiver

ACCOUNT_SID = "AC" + "7e" * 16
TOKEN = "auth-token"
SENDER = "+15005550006"
TO = "+447700900123"
FORM = "application/x-www-form-urlencoded"


@asynccontextmanager
async def twilio(
    auto_statuses: tuple[str, ...] = (),
) -> AsyncIterator[tuple[TwilioSandbox, httpx.AsyncClient, str, Receiver]]:
    sandbox = TwilioSandbox(auto_status_delay=0)
    sandbox.add_account(ACCOUNT_SID, TOKEN, senders={SENDER}, auto_statuses=auto_statuses)
    receiver = Receiver("/webhooks/twilio", status=204, content_type=FORM)
    async with (
        serve_app(sandbox.app) as url,
        serve_app(receiver.app) as hook_url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        receiver.url = f"{hook_url}/webhooks/twilio"
        yield sandbox, http, url, receiver


async def create(http: httpx.AsyncClient, callback: str | None) -> str:
    form = {"To": TO, "From": SENDER, "Body": "hello"}
    if callback:
        form["StatusCallback"] = callback
    response = await http.post(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", data=form, auth=(ACCOUNT_SID, TOKEN)
    )
    assert response.status_code == 201, response.text
    sid: str = response.json()["sid"]
    return sid


async def test_auto_statuses_are_posted_signed_to_the_status_callback() -> None:
    async with twilio(auto_statuses=("sent", "delivered")) as (sandbox, http, _, receiver):
        sid = await create(http, receiver.url)
        for expected in (Status.SENT, Status.DELIVERED):
            got = await receiver.next()
            assert got.headers.get(SIGNATURE_HEADER) is not None
            assert verify_signature(
                receiver.url, got.params, got.headers.get(SIGNATURE_HEADER), TOKEN
            )
            assert not verify_signature(
                receiver.url, got.params, got.headers.get(SIGNATURE_HEADER), "other"
            )
            parsed = parse_status_callback(got.params)
            assert parsed is not None
            assert (parsed.provider_message_id, parsed.account_sid, parsed.status) == (
                sid,
                ACCOUNT_SID,
                expected,
            )
            assert dict(got.params)["ApiVersion"] == "2010-04-01"
        await sandbox.wait_for(lambda: len(sandbox.callbacks) == 2)
        assert [c.http_status for c in sandbox.callbacks] == [204, 204]
        message = sandbox.message(sid)
        assert message is not None
        assert message.status == "delivered"


async def test_statuses_on_demand_through_the_control_endpoint() -> None:
    async with twilio() as (sandbox, http, _, receiver):
        sid = await create(http, receiver.url)
        answer = await http.post(
            "/_sandbox/statuses", json={"sid": sid, "status": "undelivered", "errorCode": 30007}
        )
        assert answer.json() == {"callbackStatus": 204}
        got = await receiver.next()
        assert dict(got.params)["ErrorCode"] == "30007"
        parsed = parse_status_callback(got.params)
        assert parsed is not None
        assert parsed.error is not None
        assert parsed.error.code == "30007"
        await http.post(
            "/_sandbox/statuses", json={"sid": sid, "status": "failed", "signWith": "nope"}
        )
        assert not verify_signature(
            receiver.url, (await receiver.next()).params, sandbox.callbacks[-1].signature, TOKEN
        )
        assert dict(sandbox.callbacks[-1].params)["ErrorCode"] == "30003"  # the default
        missing = await http.post(
            "/_sandbox/statuses", json={"sid": "SM" + "0" * 32, "status": "sent"}
        )
        assert missing.status_code == 404
        no_callback = await create(http, None)
        with pytest.raises(LookupError):
            await sandbox.post_status(no_callback, "delivered")


async def test_twilio_control_endpoints() -> None:
    async with twilio() as (sandbox, http, _, _receiver):
        other = "AC" + "11" * 16
        added = await http.post("/_sandbox/accounts", json={"accountSid": other, "authToken": "t2"})
        assert added.status_code == 201
        accounts = (await http.get("/_sandbox/accounts")).json()["accounts"]
        assert {a["accountSid"] for a in accounts} == {ACCOUNT_SID, other}
        assert "t2" not in str(accounts)
        assert (
            await http.post("/_sandbox/faults", json={"to": TO, "code": "21610", "times": 1})
        ).status_code == 201
        refused = await http.post(
            f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
            data={"To": TO, "From": SENDER, "Body": "x"},
            auth=(ACCOUNT_SID, TOKEN),
        )
        assert (refused.status_code, refused.json()["code"]) == (400, 21610)
        sid = await create(http, None)  # the fault applied once only
        listed = (await http.get("/_sandbox/messages", params={"to": "+44 7700 900123"})).json()
        assert [m["sid"] for m in listed["messages"]] == [sid]
        assert (await http.delete("/_sandbox/messages")).status_code == 204
        assert sandbox.messages == []
        unknown = await http.get("/2010-04-01/Accounts/x/Calls.json")
        assert (unknown.status_code, unknown.json()["code"]) == (404, 20404)


async def test_sns_control_endpoints() -> None:
    sandbox = SNSSandbox(region="eu-west-1")
    async with serve_app(sandbox.app) as url, httpx.AsyncClient(base_url=url) as http:
        key = {"accessKeyId": "AKIACONTROL000000001", "secretAccessKey": "s3cret"}
        assert (await http.post("/_sandbox/accounts", json=key)).status_code == 201
        assert (
            await http.post("/_sandbox/faults", json={"to": TO, "code": "Throttling", "times": 1})
        ).status_code == 201
        body = encode_form(publish_params(TO, "hi", {"AWS.SNS.SMS.SMSType": "Transactional"}))

        async def publish() -> httpx.Response:
            headers = sign(
                f"{url}/",
                body,
                access_key_id=key["accessKeyId"],
                secret_access_key=key["secretAccessKey"],
                session_token=None,
                region="eu-west-1",
            )
            return await http.post("/", content=body, headers=headers)

        throttled = await publish()
        assert throttled.status_code == 400
        assert b"<Code>Throttling</Code>" in throttled.content
        ok = await publish()
        message_id = parse_message_id(ok.content)
        listed = (await http.get("/_sandbox/messages", params={"to": TO})).json()["messages"]
        assert [(m["messageId"], m["phoneNumber"], m["message"]) for m in listed] == [
            (message_id, TO, "hi")
        ]
        assert listed[0]["attributes"] == {"AWS.SNS.SMS.SMSType": "Transactional"}


@pytest.mark.parametrize(
    ("argv", "service"),
    [
        (["sandbox", "twilio", "--port", "0", "--auto-statuses", ""], "twilio"),
        (["sandbox", "sns", "--port", "0", "--region", "eu-west-1"], "sns"),
    ],
)
def test_the_cli_serves_the_fakes(argv: list[str], service: str) -> None:
    args = build_parser().parse_args(argv)
    assert args.service == service
    assert callable(args.func)


async def test_control_faults_with_nothing_but_a_recipient_answer_each_fakes_default() -> None:
    async with twilio() as (_, http, _, _receiver):
        assert (await http.post("/_sandbox/faults", json={"to": TO})).status_code == 201
        refused = await http.post(
            f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
            data={"To": TO, "From": SENDER, "Body": "x"},
            auth=(ACCOUNT_SID, TOKEN),
        )
        assert (refused.status_code, refused.json()["code"]) == (400, 20500)
    sandbox = SNSSandbox(region="eu-west-1")
    sandbox.add_key("AKIACONTROL000000002", "s3cret")
    async with serve_app(sandbox.app) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/_sandbox/faults", json={"to": TO})).status_code == 201
        body = encode_form(publish_params(TO, "hi", {}))
        headers = sign(
            f"{url}/",
            body,
            access_key_id="AKIACONTROL000000002",
            secret_access_key="s3cret",
            session_token=None,
            region="eu-west-1",
        )
        failed = await http.post("/", content=body, headers=headers)
        assert failed.status_code == 500
        assert b"<Code>InternalError</Code>" in failed.content
        assert (await http.delete("/_sandbox/faults")).status_code == 204
        assert parse_message_id((await http.post("/", content=body, headers=headers)).content)
