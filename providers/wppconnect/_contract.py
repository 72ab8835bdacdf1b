"""The part of wa-js (``@wppconnect/wa-js``) that Herald's WhatsApp Web bridge uses.

Single source of truth for both sides: the bridge calls only these, and the WhatsApp
Web simulator (``herald sandbox whatsapp-web``) implements exactly these, under the same
names and with the argument and return shapes of the pinned package's TypeScript
declarations. A test checks every name against ``dist/**/*.d.ts`` of the pinned version,
so an upgrade that renames something fails loudly.
"""

from __future__ import annotations

__all__ = ["WAJS_PACKAGE", "WAJS_VERSION", "WPP_EVENTS", "WPP_FUNCTIONS", "WPP_PROPERTIES"]

WAJS_PACKAGE = "@wppconnect/wa-js"
WAJS_VERSION = "4.6.0"

#: ``WPP.<namespace>.<function>`` -> the .d.ts file (under dist/) that declares it.
WPP_FUNCTIONS: dict[str, str] = {
    # connection / pairing
    "conn.getAuthCode": "conn/functions/getAuthCode.d.ts",
    "conn.refreshQR": "conn/functions/refreshQR.d.ts",
    "conn.isAuthenticated": "conn/functions/isAuthenticated.d.ts",
    "conn.isMainReady": "conn/functions/isMainReady.d.ts",
    "conn.logout": "conn/functions/logout.d.ts",
    "conn.getMyUserId": "conn/functions/getMyUserId.d.ts",
    "conn.getStreamData": "conn/functions/getStreamData.d.ts",
    "conn.genLinkDeviceCodeForPhoneNumber": "conn/functions/genLinkDeviceCodeForPhoneNumber.d.ts",
    "conn.needsUpdate": "conn/functions/needsUpdate.d.ts",
    # sending
    "chat.sendTextMessage": "chat/functions/sendTextMessage.d.ts",
    "chat.sendFileMessage": "chat/functions/sendFileMessage.d.ts",
    "chat.sendLocationMessage": "chat/functions/sendLocationMessage.d.ts",
    "chat.sendVCardContactMessage": "chat/functions/sendVCardContactMessage.d.ts",
    # contacts
    "contact.queryExists": "contact/functions/queryExists.d.ts",
}

#: Events subscribed with ``WPP.on(name, listener)`` -> the .d.ts file declaring them.
WPP_EVENTS: dict[str, str] = {
    "conn.auth_code_change": "conn/events/eventTypes.d.ts",
    "conn.link_code_change": "conn/events/eventTypes.d.ts",
    "conn.require_auth": "conn/events/eventTypes.d.ts",
    "conn.authenticated": "conn/events/eventTypes.d.ts",
    "conn.main_ready": "conn/events/eventTypes.d.ts",
    "conn.logout": "conn/events/eventTypes.d.ts",
    "conn.logout_reason": "conn/events/eventTypes.d.ts",
    "conn.stream_info_changed": "conn/events/eventTypes.d.ts",
    "conn.needs_update": "conn/events/eventTypes.d.ts",
    "chat.new_message": "chat/events/eventTypes.d.ts",
    "chat.msg_ack_change": "chat/events/eventTypes.d.ts",
}

#: Other names the bridge reads -> the .d.ts file declaring them.
WPP_PROPERTIES: dict[str, str] = {
    "isReady": "loader/index.d.ts",
    "on": "eventEmitter/index.d.ts",
    # the connection (socket) state: WPP.whatsapp.Socket.state, with 'change:state' events
    "whatsapp.Socket": "whatsapp/misc/Socket.d.ts",
}
