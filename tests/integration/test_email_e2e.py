"""Email end to end: one real worker process, the embedded broker, a real redis-server and
the SendGrid, SES and Mailgun fakes over loopback HTTP.

A request per provider produced to ``notifications.requests`` ends ``sent`` with the
provider's message id; SendGrid's and Mailgun's signed webhooks (posted by the fakes)
become ``delivered`` / ``read`` / ``failed``; badly signed or replayed ones are refused
and emit nothing. One worker start for the whole file.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from cryptography.hazmat.primitives.asymmetric import ec
from redis.asyncio import Redis

from sandbox import serve_app
from sandbox.mailgun import MailgunSandbox
from sandbox.sendgrid import SendGridSandbox
from sandbox.ses import SESSandbox
from schemas import Settings
from seeds import load_seeds
from streams.tenancy.crypto import Cipher
from streams.tenancy.integrations import IntegrationStore
from tests.helpers import consume_until, produce

pytestmark = pytest.mark.integration

TENANT = "acme"
SENDER = "orders@herald.example"
MG_DOMAIN = "mg.herald.example"
SES_REGION = "eu-west-1"
PDF = base64.b64encode(b"%PDF-1.4 test").decode()


def request(provider: str | None, to: str, **content: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"mail-{uuid.uuid4().hex[:10]}",
        "tenantId": TENANT,
        "channel": "email",
        "recipient": {"email": to},
        "content": {"subject": "Your order has shipped", "body": "On its way.", **content},
        "metadata": {"orderId": 42},
    }
    if provider:
        body["provider"] = provider
    return body


async def store_integrations(redis: Redis, settings: Settings, sendgrid_key: str) -> None:
    await load_seeds(redis)
    store = IntegrationStore(redis, Cipher.from_settings(settings))
    common = {"fromEmail": SENDER, "fromName": "Acme Orders"}
    await store.set(
        TENANT,
        "sendgrid",
        {**common, "apiKey": "SG.acme", "webhookPublicKey": sendgrid_key},
        is_default=True,
    )
    await store.set(
        TENANT,
        "ses",
        {
            **common,
            "region": SES_REGION,
            "accessKeyId": "AKIAACME",
            "secretAccessKey": "ses-secret",
        },
    )
    await store.set(
        TENANT,
        "mailgun",
        {
            "fromEmail": f"orders@{MG_DOMAIN}",
            "fromName": "Acme Orders",
            "apiKey": "key-acme",
            "domain": MG_DOMAIN,
            "webhookSigningKey": "mg-signing-key",
        },
    )


async def test_email_requests_are_sent_and_signed_webhooks_become_statuses(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    redis: Redis,
) -> None:
    sendgrid, ses, mailgun = SendGridSandbox(), SESSandbox(region=SES_REGION), MailgunSandbox()
    async with (
        serve_app(sendgrid.app) as sendgrid_url,
        serve_app(ses.app) as ses_url,
        serve_app(mailgun.app) as mailgun_url,
    ):
        settings = settings_factory(
            sendgrid_api_url=sendgrid_url,
            ses_endpoint_url=ses_url,
            mailgun_api_url=mailgun_url,
            provider_timeout_seconds=2.0,
            send_max_attempts=2,
        )
        hooks = f"http://127.0.0.1:{settings.web_port}/webhooks"
        account = sendgrid.add_account(
            "SG.acme", verified_senders=["@herald.example"], webhook_url=f"{hooks}/sendgrid"
        )
        ses.add_account("AKIAACME", "ses-secret", verified_identities=["herald.example"])
        domain = mailgun.add_domain(
            MG_DOMAIN,
            api_key="key-acme",
            webhook_signing_key="mg-signing-key",
            webhook_url=f"{hooks}/mailgun",
        )
        await store_integrations(redis, settings, account.public_key)
        await worker_factory(settings)

        requests = {
            "sg_read": request(None, "ana@customer.example"),  # the tenant's default: sendgrid
            "sg_bounce": request("sendgrid", "gone@customer.example", html="<p>On its way.</p>"),
            "ses": request(
                "ses",
                "ana@customer.example",
                media={"base64": PDF, "mimetype": "application/pdf", "filename": "invoice.pdf"},
            ),
            "mg_read": request("mailgun", "ana@customer.example"),
            "mg_failed": request("mailgun", "gone@customer.example"),
            "invalid": request("mailgun", "not-an-address"),
        }
        for body in requests.values():
            await produce(settings, settings.topic_requests, TENANT.encode(), orjson.dumps(body))

        def events_of(records: list[ConsumerRecord]) -> dict[str, list[dict[str, Any]]]:
            found: dict[str, list[dict[str, Any]]] = {name: [] for name in requests}
            by_id = {body["id"]: name for name, body in requests.items()}
            for record in records:
                event = orjson.loads(record.value)
                name = by_id.get(event["notificationId"])
                if name is not None:
                    found[name].append(event)
            return found

        def until(expected: dict[str, list[str]]) -> Callable[[list[ConsumerRecord]], bool]:
            def done(records: list[ConsumerRecord]) -> bool:
                found = events_of(records)
                return all(
                    [e["status"] for e in found[name]][: len(statuses)] == statuses
                    for name, statuses in expected.items()
                )

            return done

        sent = {name: ["accepted", "sent"] for name in requests if name != "invalid"}
        records = await consume_until(
            settings, settings.topic_status, until({**sent, "invalid": ["rejected"]})
        )
        found = events_of(records)
        assert found["invalid"][0]["error"]["code"] == "invalid_recipient"
        ids = {name: found[name][1]["providerMessageId"] for name in sent}
        assert {found[name][1]["provider"] for name in sent} == {"sendgrid", "ses", "mailgun"}
        for name, fake in (
            ("sg_read", sendgrid),
            ("sg_bounce", sendgrid),
            ("ses", ses),
            ("mg_read", mailgun),
            ("mg_failed", mailgun),
        ):
            mail = fake.message(ids[name])
            assert mail is not None, f"{name}: the fake has no mail {ids[name]!r}"
            assert mail.to == (requests[name]["recipient"]["email"],)
        ses_mail = ses.message(ids["ses"])
        assert ses_mail is not None
        assert ses_mail.attachments[0].filename == "invoice.pdf"

        # SendGrid: badly signed and unsigned events are refused; signed ones apply.
        stranger = ec.generate_private_key(ec.SECP256R1())
        assert await sendgrid.post_event(ids["sg_read"], "bounce", sign_with=stranger) == 401
        assert await sendgrid.post_event(ids["sg_read"], "bounce", unsigned=True) == 401
        assert await sendgrid.post_event(ids["sg_read"], "delivered") == 200
        assert await sendgrid.post_event(ids["sg_read"], "open") == 200
        assert await sendgrid.post_event(ids["sg_read"], "delivered") == 200  # late: dropped
        assert await sendgrid.post_event(ids["sg_bounce"], "bounce") == 200

        # Mailgun: a bad signature and a replayed token are refused; signed ones apply.
        mail = mailgun.message(ids["mg_read"])
        assert mail is not None
        forged = mailgun.signed_body(
            domain, mailgun.event_data(mail, "failed"), sign_with="not-the-key"
        )
        assert await mailgun.post_body(domain, forged) == 401
        delivered = mailgun.signed_body(domain, mailgun.event_data(mail, "delivered"))
        assert await mailgun.post_body(domain, delivered) == 200
        assert await mailgun.post_body(domain, delivered) == 406
        assert await mailgun.post_event(ids["mg_read"], "opened") == 200
        assert await mailgun.post_event(ids["mg_failed"], "failed", severity="temporary") == 200
        assert await mailgun.post_event(ids["mg_failed"], "failed", severity="permanent") == 200

        # Every webhook above was answered after its events (if any) were on the broker,
        # and a tenant's events share one partition: the sequences below are complete.
        expected = {
            **sent,
            "sg_read": ["accepted", "sent", "delivered", "read"],
            "sg_bounce": ["accepted", "sent", "failed"],
            "mg_read": ["accepted", "sent", "delivered", "read"],
            "mg_failed": ["accepted", "sent", "failed"],
        }
        found = events_of(await consume_until(settings, settings.topic_status, until(expected)))
        for name, statuses in expected.items():
            assert [e["status"] for e in found[name]] == statuses, name
        for name in ("sg_read", "sg_bounce", "mg_read", "mg_failed"):
            for event in found[name][2:]:
                assert event["providerMessageId"] == ids[name]
                assert event["metadata"] == {"orderId": 42}
        assert found["sg_bounce"][2]["error"]["code"] == "bounce"
        assert found["mg_failed"][2]["error"] == {
            "code": "550",
            "message": "5.1.1 The email account that you tried to reach does not exist.",
            "retryable": False,
        }
        await sendgrid.close()
        await mailgun.close()
