"""The page side of the bridge: a script injected before WhatsApp Web's own scripts.

It runs on every page load (Playwright ``add_init_script``), next to the wa-js bundle,
and does three things:

* waits until ``window.WPP.isReady`` (polling: the bundle, or a stand-in page, may set
  ``window.WPP`` at any time and may replace it), then subscribes to the events of
  :data:`~providers.wppconnect._contract.WPP_EVENTS` and to the socket's
  ``change:state`` -- exactly once per document, on the first ``WPP`` that is ready,
  whatever ``isReady`` does later and whether or not a call throws (a second subscription
  would repeat every inbound message and state event) -- and reports ``bridge.ready``
  once per document, as soon as the page's state can be read: again after every
  navigation or reload, since a new document has fresh listeners;
* forwards each event to Python through the ``__heraldEmit`` binding, reduced to plain
  JSON (message models carry cycles and functions);
* exposes ``__heraldCall(path, args)``, which calls ``WPP.<path>(...args)`` only for
  the functions of :data:`~providers.wppconnect._contract.WPP_FUNCTIONS`, and returns
  ``{ok: value}`` or ``{error: {name, code, message}}`` (wa-js errors carry a code).

Only ``WPP.*`` names of the contract appear here; a test checks it.
"""

from __future__ import annotations

import json

from providers.wppconnect._contract import WPP_EVENTS, WPP_FUNCTIONS

__all__ = ["BINDING_NAME", "BRIDGE_JS", "CALL_FUNCTION", "STATE_FUNCTION", "TAKEOVER_FUNCTION"]

BINDING_NAME = "__heraldEmit"
CALL_FUNCTION = "__heraldCall"
STATE_FUNCTION = "__heraldState"
TAKEOVER_FUNCTION = "__heraldTakeover"

_TEMPLATE = r"""
(() => {
  if (window.__heraldBridge) return;
  const ALLOWED = new Set(__FUNCTIONS__);
  const EVENTS = __EVENTS__;
  const bridge = { wpp: null, timer: null };
  Object.defineProperty(window, '__heraldBridge', { value: bridge, enumerable: false });

  const emit = (name, payload) => {
    try {
      const fn = window.__heraldEmit;
      if (typeof fn === 'function') fn(name, payload === undefined ? null : payload);
    } catch (e) { /* the page must never break because of the bridge */ }
  };
  const ser = (v) => {
    if (v === null || v === undefined) return null;
    if (typeof v === 'string') return v;
    if (typeof v._serialized === 'string') return v._serialized;
    try { return String(v); } catch (e) { return null; }
  };
  const plain = (v, depth) => {
    if (v === null || v === undefined) return null;
    if (typeof v === 'function') return undefined;
    if (typeof v !== 'object') return v;
    if (typeof v._serialized === 'string') return v._serialized;
    if (depth <= 0) return null;
    if (Array.isArray(v)) return v.map((x) => plain(x, depth - 1));
    const out = {};
    for (const k of Object.keys(v)) {
      const x = plain(v[k], depth - 1);
      if (x !== undefined) out[k] = x;
    }
    return out;
  };
  const message = (m) => {
    if (!m) return null;
    const type = m.type || 'chat';
    return {
      id: ser(m.id),
      fromMe: !!(m.id && m.id.fromMe),
      from: ser(m.from),
      to: ser(m.to),
      type: type,
      body: type === 'chat' ? (typeof m.body === 'string' ? m.body : null) : (m.caption || null),
      t: typeof m.t === 'number' ? m.t : null,
    };
  };
  const reducers = {
    'conn.auth_code_change': (code) => (code ? { fullCode: code.fullCode, ref: code.ref, type: code.type } : null),
    'conn.link_code_change': (code) => (typeof code === 'string' ? code : null),
    'conn.logout_reason': (reason) => (reason === null || reason === undefined ? null : String(reason)),
    'conn.stream_info_changed': (info) => (info === null || info === undefined ? null : String(info)),
    'chat.new_message': (msg) => message(msg),
    'chat.msg_ack_change': (e) => ({
      ack: e ? e.ack : null,
      chat: e ? ser(e.chat) : null,
      ids: e && e.ids ? Array.from(e.ids, ser) : [],
    }),
  };

  const snapshot = () => {
    const WPP = window.WPP;
    if (!WPP || !WPP.isReady) return { ready: false };
    const socket = WPP.whatsapp && WPP.whatsapp.Socket;
    return {
      ready: true,
      authenticated: !!WPP.conn.isAuthenticated(),
      mainReady: !!WPP.conn.isMainReady(),
      state: socket && socket.state ? String(socket.state) : null,
      needsUpdate: typeof WPP.conn.needsUpdate === 'function' ? !!WPP.conn.needsUpdate() : false,
    };
  };

  // Once per document, to the first WPP that is ready, whatever isReady or a throw does
  // later: a second subscription would repeat every event (inbound messages, states).
  const subscribe = (WPP) => {
    bridge.wpp = WPP;
    for (const name of EVENTS) {
      const reduce = reducers[name] || (() => null);
      try { WPP.on(name, (payload) => emit(name, reduce(payload))); } catch (e) { /* not in this build */ }
    }
    try {
      const socket = WPP.whatsapp && WPP.whatsapp.Socket;
      if (socket && typeof socket.on === 'function') {
        socket.on('change:state', () => emit('socket.state', socket.state ? String(socket.state) : null));
      }
    } catch (e) { /* no socket model: states come with the snapshots */ }
  };
  const tick = () => {
    const WPP = window.WPP;
    if (!bridge.wpp) {
      if (!WPP || !WPP.isReady) return;
      subscribe(WPP);
    }
    const snap = snapshot();  // may throw while WhatsApp Web loads: reported on a later tick
    if (!snap.ready) return;
    clearInterval(bridge.timer);
    emit('bridge.ready', snap);
  };
  bridge.timer = setInterval(() => { try { tick(); } catch (e) { /* next tick */ } }, 100);

  window.__heraldState = () => snapshot();
  window.__heraldTakeover = async () => {
    const socket = window.WPP && window.WPP.whatsapp && window.WPP.whatsapp.Socket;
    if (!socket || typeof socket.takeover !== 'function') return false;
    await socket.takeover();
    return true;
  };
  window.__heraldCall = async (path, args) => {
    if (!ALLOWED.has(path)) return { error: { name: 'HeraldBridgeError', code: 'not_allowed', message: path + ' is not in the bridge contract' } };
    const WPP = window.WPP;
    if (!WPP || !WPP.isReady) return { error: { name: 'HeraldBridgeError', code: 'not_ready', message: 'WPP is not ready' } };
    const [ns, fn] = path.split('.');
    try {
      const result = await WPP[ns][fn](...(args || []));
      return { ok: plain(result, 3) };
    } catch (e) {
      return { error: { name: (e && e.name) || 'Error', code: (e && e.code) || null, message: String((e && e.message) || e) } };
    }
  };
})();
"""

#: The init script; functions and events come from the contract.
BRIDGE_JS = _TEMPLATE.replace("__FUNCTIONS__", json.dumps(sorted(WPP_FUNCTIONS))).replace(
    "__EVENTS__", json.dumps(sorted(WPP_EVENTS))
)
