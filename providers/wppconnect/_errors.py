"""wa-js errors (``WPPError`` codes) -> retryable or permanent (data only).

wa-js throws ``WPPError`` with a ``code`` (the pinned bundle's codes: ``grep -o
'WPPError("[a-z_]*"' vendor/wa-js/dist/wppconnect-wa.js``); the bridge hands the code
back. Codes listed in :data:`PERMANENT` describe the request itself (a chat that does not
exist, a bad id, a file too large): retrying the same message cannot help. Codes in
:data:`RETRYABLE` describe the session or WhatsApp's servers at that moment: the same
message may go out later, after ``retry_after`` seconds when given, under the Herald code
given (``None``: the wa-js code itself). Any other code, or an error without one (a
``TypeError`` from a WhatsApp Web update, say), is retryable as ``provider_error``: the
attempts are bounded by ``HERALD_SEND_MAX_ATTEMPTS``, and the message id is fixed, so a
retry never sends twice.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PERMANENT", "RETRYABLE", "WppErrorClass", "classify_wpp_error"]


@dataclass(frozen=True, slots=True)
class WppErrorClass:
    retryable: bool
    code: str
    retry_after: float | None = None


PERMANENT: frozenset[str] = frozenset(
    {
        "chat_not_found",
        "contact_not_found",
        "invalid_wid",
        "invalid_chat_id",
        "file_too_large",
        "incorrect_type",
        "invalid_data_url",
        "invalid_message_key",
        "message_key_is_not_from_me",
        "message_key_remote_id_is_not_same_of_chat",
        "invalid_quoted_msg",
        "quoted_msg_can_not_reply",
        "mentioned_is_not_user",
        "mentioned_list_is_not_array",
        "send_required_params",
        "send_the_required_fields",
        "not_a_group",
        "group_not_exist",
        "group_you_are_restricted_member",
        "number_is_not_your_contact",
        "msg_expired",
        "invalid_message",  # the simulator's refusal of a malformed message
        "invalid_media",
    }
)

#: code -> (Herald's code or ``None`` for the wa-js code, seconds before retrying or ``None``)
RETRYABLE: dict[str, tuple[str | None, float | None]] = {
    "not_connected": ("session_reloading", None),  # the page lost its link meanwhile
    "not_in_chat": ("session_reloading", None),
    "not_authenticated": ("session_not_authenticated", None),
    "logout": ("session_not_authenticated", None),  # logged out during the call
    "timeout_on_send_status": ("provider_timeout", None),
    "timeout_on_register_status": ("provider_timeout", None),
    "mex_client_not_available": ("provider_unavailable", 5.0),
    "rate_overlimit": ("rate_limited", 60.0),  # WhatsApp's 429 ("rate-overlimit")
    "unknown": ("provider_error", None),
}


def classify_wpp_error(code: str | None) -> WppErrorClass:
    """How Herald treats a wa-js error with ``code``."""
    if code and code in PERMANENT:
        return WppErrorClass(False, code)
    if code and code in RETRYABLE:
        herald, after = RETRYABLE[code]
        return WppErrorClass(True, herald or code, after)
    return WppErrorClass(True, "provider_error")
