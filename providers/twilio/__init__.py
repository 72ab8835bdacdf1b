"""The ``twilio`` provider: Twilio Programmable Messaging (SMS).

Sending (:class:`TwilioProvider`), the error table (:data:`TWILIO_ERRORS`) and the pure
status-callback helpers the web view uses (:func:`verify_signature`,
:func:`parse_status_callback`, ...).
"""

from __future__ import annotations

from providers.twilio._credentials import TwilioCredentials
from providers.twilio._errors import (
    TWILIO_ERRORS,
    error_from_response,
    error_from_transport,
    parse_twilio_error,
)
from providers.twilio._provider import API_VERSION, TwilioProvider, status_callback_url
from providers.twilio._receiver import handle_status_callback, twilio_webhook
from providers.twilio._webhook import (
    CALLBACK_PATH,
    SIGNATURE_HEADER,
    MalformedCallback,
    StatusCallback,
    account_sid,
    callback_url,
    candidate_urls,
    compute_signature,
    load_form,
    parse_status_callback,
    verify_signature,
)

__all__ = [
    "API_VERSION",
    "CALLBACK_PATH",
    "SIGNATURE_HEADER",
    "TWILIO_ERRORS",
    "MalformedCallback",
    "StatusCallback",
    "TwilioCredentials",
    "TwilioProvider",
    "account_sid",
    "callback_url",
    "candidate_urls",
    "compute_signature",
    "error_from_response",
    "error_from_transport",
    "handle_status_callback",
    "load_form",
    "parse_status_callback",
    "parse_twilio_error",
    "status_callback_url",
    "twilio_webhook",
    "verify_signature",
]
