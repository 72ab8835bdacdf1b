"""The seed data is the seed service's, value for value, and agrees with the registry."""

from __future__ import annotations

from providers.registry import NOT_IMPLEMENTED, REGISTRY
from schemas.notification import Channel
from seeds.data import LOOKUP_TYPES, LOOKUPS, PROVIDERS
from streams.tenancy.integrations import credential_models


def test_exactly_the_five_provider_lookup_types() -> None:
    assert [(t.type_name, t.description) for t in LOOKUP_TYPES] == [
        ("email_provider", "Available email provider implementations"),
        ("sms_provider", "Available SMS provider implementations"),
        ("fcm_provider", "Available push notification provider implementations"),
        ("whatsapp_provider", "Available WhatsApp provider implementations"),
        ("database_provider", "Available database notification provider implementations"),
    ]


def test_exactly_the_ten_provider_lookups() -> None:
    assert [
        (lk.type, lk.lookup_code, lk.lookup_value, lk.order_index, lk.metadata) for lk in LOOKUPS
    ] == [
        ("email_provider", "sendgrid", "SendGrid", 1, {"channel": "email"}),
        ("email_provider", "ses", "AWS SES", 2, {"channel": "email"}),
        ("email_provider", "mailgun", "Mailgun", 3, {"channel": "email"}),
        ("sms_provider", "twilio", "Twilio", 1, {"channel": "sms"}),
        ("sms_provider", "sns", "AWS SNS", 2, {"channel": "sms"}),
        ("fcm_provider", "firebase", "Firebase Cloud Messaging", 1, {"channel": "fcm"}),
        ("fcm_provider", "apn", "Apple Push Notification", 2, {"channel": "fcm"}),
        (
            "whatsapp_provider",
            "whatsapp-business",
            "WhatsApp Business API",
            1,
            {"channel": "whatsapp", "official": True},
        ),
        (
            "whatsapp_provider",
            "wppconnect",
            "WPPConnect",
            2,
            {"channel": "whatsapp", "unofficial": True},
        ),
        ("database_provider", "database", "Database Inbox", 1, {"channel": "database"}),
    ]


def test_lookup_wire_shape() -> None:
    lookup = next(lk for lk in LOOKUPS if lk.lookup_code == "whatsapp-business")
    assert lookup.model_dump(by_alias=True) == {
        "type": "whatsapp_provider",
        "lookupCode": "whatsapp-business",
        "lookupValue": "WhatsApp Business API",
        "orderIndex": 1,
        "metadata": {"channel": "whatsapp", "official": True},
    }


def test_every_lookup_type_is_used_and_matches_its_channel() -> None:
    types = {t.type_name for t in LOOKUP_TYPES}
    assert {lk.type for lk in LOOKUPS} == types
    for lookup in LOOKUPS:
        assert lookup.type == f"{lookup.channel}_provider"


def test_the_ten_provider_rows() -> None:
    assert [
        (p.name, p.channel, p.provider_type, p.display_name, p.is_default, p.is_active, p.priority)
        for p in PROVIDERS
    ] == [
        ("sendgrid", Channel.EMAIL, "sendgrid", "SendGrid", True, True, 1),
        ("aws-ses", Channel.EMAIL, "ses", "AWS SES", False, False, 2),
        ("mailgun", Channel.EMAIL, "mailgun", "Mailgun", False, False, 3),
        ("twilio", Channel.SMS, "twilio", "Twilio", True, True, 1),
        ("aws-sns", Channel.SMS, "sns", "AWS SNS", False, False, 2),
        ("firebase", Channel.FCM, "firebase", "Firebase Cloud Messaging", True, True, 1),
        ("apple-apn", Channel.FCM, "apn", "Apple Push Notification", False, False, 2),
        (
            "whatsapp-business",
            Channel.WHATSAPP,
            "whatsapp-business",
            "WhatsApp Business API",
            True,
            True,
            1,
        ),
        ("wppconnect", Channel.WHATSAPP, "wppconnect", "WPPConnect", False, True, 2),
        ("database-inbox", Channel.DATABASE, "database", "Database Inbox", True, True, 1),
    ]
    assert all(p.description for p in PROVIDERS)


def test_provider_row_configurations() -> None:
    rows = {p.name: p for p in PROVIDERS}
    wppconnect = dict(rows["wppconnect"].configuration)  # a copy: the checks pop what they read
    assert wppconnect.pop("autoClose") == 60 * 60 * 1000  # an hour to scan, in ms
    assert wppconnect.pop("qrTimeout") == 60 * 1000  # the env section's autoClose: a minute
    assert wppconnect.pop("webhookUrl") == "/webhooks/wppconnect"  # the route the worker serves
    assert wppconnect.pop("folderNameToken") == "./tokens/wppconnect"
    assert wppconnect == {
        "sessionName": "notification-service",
        "tokenStore": "file",
        "useChrome": True,
        "disableWelcome": True,
    }
    assert rows["whatsapp-business"].configuration == {
        "apiVersion": "v18.0",
        "webhookUrl": "/webhooks/whatsapp",
        "messagingProduct": "whatsapp",
    }
    assert rows["sendgrid"].configuration["categories"] == ["transactional"]
    assert rows["twilio"].configuration == {
        "messagingServiceSid": "",
        "statusCallbackUrl": "/webhooks/twilio",
        "maxMessageLength": 1600,
    }
    assert rows["apple-apn"].configuration == {
        "production": False,
        "topic": "",
        "priority": 10,
        "expiration": 0,
    }
    assert rows["database-inbox"].configuration == {
        "tableName": "user_notifications",
        "retentionDays": 90,
    }


def test_every_lookup_has_a_provider_row_and_vice_versa() -> None:
    lookups = {lk.lookup_code: lk for lk in LOOKUPS}
    rows = {p.provider_type: p for p in PROVIDERS}
    assert set(lookups) == set(rows)
    for code, row in rows.items():
        assert row.channel == lookups[code].channel
    assert len(rows) == len(PROVIDERS), "two rows share a providerType"


def test_registry_and_lookups_agree() -> None:
    codes = {lk.lookup_code for lk in LOOKUPS}
    assert not set(REGISTRY) & set(NOT_IMPLEMENTED), "a provider is both implemented and not"
    assert set(REGISTRY) | set(NOT_IMPLEMENTED) == codes
    for code, cls in REGISTRY.items():
        lookup = next(lk for lk in LOOKUPS if lk.lookup_code == code)
        assert cls.channel == lookup.channel
        assert cls.display_name == lookup.lookup_value


def test_every_credentials_model_belongs_to_a_seed_provider() -> None:
    codes = {lk.lookup_code for lk in LOOKUPS}
    assert set(credential_models()) <= codes
    for code, cls in REGISTRY.items():
        assert credential_models()[code] is cls.credentials_model
