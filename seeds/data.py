"""The seed's provider lookup data, value for value.

Copied from the seed service's ``seed-lookup-types.ts``, ``seed-lookups.ts`` (the five
provider lookup types and ten provider lookup values listed in section 0 of its "Add
WPPConnect Provider" plan) and ``seed-providers.ts`` (the ten provider rows).
"""

from __future__ import annotations

from schemas.lookups import Lookup, LookupType, ProviderSeed
from schemas.notification import Channel

__all__ = ["LOOKUPS", "LOOKUP_TYPES", "PROVIDERS"]

LOOKUP_TYPES: tuple[LookupType, ...] = (
    LookupType(type_name="email_provider", description="Available email provider implementations"),
    LookupType(type_name="sms_provider", description="Available SMS provider implementations"),
    LookupType(
        type_name="fcm_provider",
        description="Available push notification provider implementations",
    ),
    LookupType(
        type_name="whatsapp_provider", description="Available WhatsApp provider implementations"
    ),
    LookupType(
        type_name="database_provider",
        description="Available database notification provider implementations",
    ),
)

LOOKUPS: tuple[Lookup, ...] = (
    # Email providers
    Lookup(
        type="email_provider",
        lookup_code="sendgrid",
        lookup_value="SendGrid",
        order_index=1,
        metadata={"channel": "email"},
    ),
    Lookup(
        type="email_provider",
        lookup_code="ses",
        lookup_value="AWS SES",
        order_index=2,
        metadata={"channel": "email"},
    ),
    Lookup(
        type="email_provider",
        lookup_code="mailgun",
        lookup_value="Mailgun",
        order_index=3,
        metadata={"channel": "email"},
    ),
    # SMS providers
    Lookup(
        type="sms_provider",
        lookup_code="twilio",
        lookup_value="Twilio",
        order_index=1,
        metadata={"channel": "sms"},
    ),
    Lookup(
        type="sms_provider",
        lookup_code="sns",
        lookup_value="AWS SNS",
        order_index=2,
        metadata={"channel": "sms"},
    ),
    # FCM providers
    Lookup(
        type="fcm_provider",
        lookup_code="firebase",
        lookup_value="Firebase Cloud Messaging",
        order_index=1,
        metadata={"channel": "fcm"},
    ),
    Lookup(
        type="fcm_provider",
        lookup_code="apn",
        lookup_value="Apple Push Notification",
        order_index=2,
        metadata={"channel": "fcm"},
    ),
    # WhatsApp providers
    Lookup(
        type="whatsapp_provider",
        lookup_code="whatsapp-business",
        lookup_value="WhatsApp Business API",
        order_index=1,
        metadata={"channel": "whatsapp", "official": True},
    ),
    Lookup(
        type="whatsapp_provider",
        lookup_code="wppconnect",
        lookup_value="WPPConnect",
        order_index=2,
        metadata={"channel": "whatsapp", "unofficial": True},
    ),
    # Database provider
    Lookup(
        type="database_provider",
        lookup_code="database",
        lookup_value="Database Inbox",
        order_index=1,
        metadata={"channel": "database"},
    ),
)

PROVIDERS: tuple[ProviderSeed, ...] = (
    # Email providers
    ProviderSeed(
        name="sendgrid",
        channel=Channel.EMAIL,
        provider_type="sendgrid",
        display_name="SendGrid",
        is_default=True,
        is_active=True,
        priority=1,
        configuration={
            "fromEmailTemplate": "{{tenant.email}}",
            "fromNameTemplate": "{{tenant.name}}",
            "trackOpens": True,
            "trackClicks": True,
            "categories": ["transactional"],
        },
        description="SendGrid email delivery service",
    ),
    ProviderSeed(
        name="aws-ses",
        channel=Channel.EMAIL,
        provider_type="ses",
        display_name="AWS SES",
        is_default=False,
        is_active=False,
        priority=2,
        configuration={
            "region": "us-east-1",
            "fromEmailTemplate": "{{tenant.email}}",
            "fromNameTemplate": "{{tenant.name}}",
            "configurationSet": "default",
        },
        description="Amazon Simple Email Service",
    ),
    ProviderSeed(
        name="mailgun",
        channel=Channel.EMAIL,
        provider_type="mailgun",
        display_name="Mailgun",
        is_default=False,
        is_active=False,
        priority=3,
        configuration={
            "domainTemplate": "{{tenant.domain}}",
            "fromEmailTemplate": "noreply@{{tenant.domain}}",
            "fromNameTemplate": "{{tenant.name}}",
            "trackingEnabled": True,
        },
        description="Mailgun email delivery platform",
    ),
    # SMS providers
    ProviderSeed(
        name="twilio",
        channel=Channel.SMS,
        provider_type="twilio",
        display_name="Twilio",
        is_default=True,
        is_active=True,
        priority=1,
        configuration={
            "messagingServiceSid": "",
            "statusCallbackUrl": "/webhooks/twilio",
            "maxMessageLength": 1600,
        },
        description="Twilio SMS delivery service",
    ),
    ProviderSeed(
        name="aws-sns",
        channel=Channel.SMS,
        provider_type="sns",
        display_name="AWS SNS",
        is_default=False,
        is_active=False,
        priority=2,
        configuration={"region": "us-east-1", "smsType": "Transactional"},
        description="Amazon Simple Notification Service",
    ),
    # Push notification providers
    ProviderSeed(
        name="firebase",
        channel=Channel.FCM,
        provider_type="firebase",
        display_name="Firebase Cloud Messaging",
        is_default=True,
        is_active=True,
        priority=1,
        configuration={"priority": "high", "timeToLive": 2419200, "contentAvailable": True},
        description="Firebase Cloud Messaging (FCM) for Android/iOS/Web",
    ),
    ProviderSeed(
        name="apple-apn",
        channel=Channel.FCM,
        provider_type="apn",
        display_name="Apple Push Notification",
        is_default=False,
        is_active=False,
        priority=2,
        configuration={"production": False, "topic": "", "priority": 10, "expiration": 0},
        description="Apple Push Notification Service (APNs)",
    ),
    # WhatsApp providers
    ProviderSeed(
        name="whatsapp-business",
        channel=Channel.WHATSAPP,
        provider_type="whatsapp-business",
        display_name="WhatsApp Business API",
        is_default=True,
        is_active=True,
        priority=1,
        configuration={
            "apiVersion": "v18.0",
            "webhookUrl": "/webhooks/whatsapp",
            "messagingProduct": "whatsapp",
        },
        description="WhatsApp Business API for messaging",
    ),
    ProviderSeed(
        name="wppconnect",
        channel=Channel.WHATSAPP,
        provider_type="wppconnect",
        display_name="WPPConnect",
        is_default=False,
        is_active=True,
        priority=2,
        configuration={
            "sessionName": "notification-service",
            # The seed's provider row says 3600000 (an hour to scan); the environment
            # default (WHATSAPP_WPPCONNECT_AUTO_CLOSE) stays the seed's env value, 60000.
            "autoClose": 3600000,
            "qrTimeout": 60000,
            "useChrome": True,
            "disableWelcome": True,
            "tokenStore": "file",
            "folderNameToken": "./tokens/wppconnect",
            "webhookUrl": "/webhooks/wppconnect",
        },
        description="WPPConnect WhatsApp Web client for multi-tenant messaging",
    ),
    # Database provider (internal)
    ProviderSeed(
        name="database-inbox",
        channel=Channel.DATABASE,
        provider_type="database",
        display_name="Database Inbox",
        is_default=True,
        is_active=True,
        priority=1,
        configuration={"tableName": "user_notifications", "retentionDays": 90},
        description="Store notifications in database for in-app inbox",
    ),
)
