/*
 * WhatsApp Web simulator, part 2 of 4: window.WPP, the subset of @wppconnect/wa-js 4.6.0
 * that Herald's bridge uses (providers/wppconnect/_contract.py), with the semantics of
 * wa-js's sources where they matter:
 *
 * - conn.main_ready fires ONCE per page load, at the first stream mode QR or MAIN (so an
 *   unpaired page fires it with its QR code, and a scan does not fire it again);
 *   isMainReady() stays true for the page's life. Use isAuthenticated() and
 *   Socket.state === 'CONNECTED' (or getStreamData().mode === 'MAIN') for "logged in".
 * - conn.authenticated fires when the main interface loads after a scan, not on a restore.
 * - conn.auth_code_change fires with the new code on every ref change and with null when
 *   the code goes away (scan, idle, lost link); events emitted before a listener subscribed
 *   are not replayed: subscribe, then read getAuthCode() / Socket.state.
 * - chat.new_message fires for this page's own sent messages too (id.fromMe === true).
 * - chat.msg_ack_change: ack 1 comes from the local store ({ack, chat, ids}); receipts come
 *   as {ack, chat, sender, ids}.
 * - After a logout the page navigates to /?post_logout=1 (config.reloadOnLogout), as
 *   WhatsApp Web does: listeners must be added again on the new document.
 *
 * The WebSocket protocol is documented in sandbox/whatsapp_web/_protocol.py.
 */
(function () {
  'use strict';

  const B = window.__waSimBase;
  const { EventEmitter, Model, WPPError, Wid, MsgKey, MsgModel, storage, cryptoKeys } = B;

  const WAJS_VERSION = '4.6.0';
  const SIMULATOR_VERSION = '1';
  // The WhatsApp Web build this page is, from the page's <meta name="wa-version"> (a pinned
  // build's page says its own), where WhatsApp Web reports it: window.Debug.VERSION (wa-js
  // reads it there too: conn.main_init, isMainInit). Sent in the hello (min_version).
  const WHATSAPP_WEB_VERSION = (document.querySelector('meta[name="wa-version"]') || {}).content || null;
  const SEND_DEFAULTS = { detectMentioned: true, linkPreview: true, markIsRead: true, waitForAck: true, delay: 0 };
  const MIB = 1024 * 1024;
  const UPLOAD_LIMITS = { image: 16 * MIB, video: 16 * MIB, audio: 16 * MIB, ptt: 16 * MIB, sticker: 16 * MIB, document: 100 * MIB };

  const ev = new EventEmitter();
  const Socket = new Model({ state: 'OPENING', stream: 'DISCONNECTED' });
  const Stream = new Model({ mode: undefined, info: 'OPENING', displayInfo: 'OPENING', needsUpdate: false });
  const Conn = new Model({ ref: null });
  for (const [model, names] of [[Socket, ['state', 'stream']], [Stream, ['mode', 'info', 'displayInfo', 'needsUpdate']], [Conn, ['ref']]]) {
    for (const name of names) {
      Object.defineProperty(model, name, { get: () => model.get(name), enumerable: true });
    }
  }

  const sim = {
    widMd: storage.readWid(), // '<phone>:<n>@c.us' of the stored pairing (localStorage 'last-wid-md')
    keys: null, // auth code keys of an unpaired page
    ws: null,
    challenge: null,
    config: { queryCacheHitMs: 300000, queryCacheMissMs: 15000, reloadOnLogout: true, reloadAfterPairing: false, reconnectDelayMs: 1000 },
    seq: 0,
    requests: new Map(), // seq -> {payload, resolve, reject, sent}
    loggedIn: false, // the server accepted this page's login and it is not in conflict
    mainReady: false,
    mainLoaded: false,
    requireAuthFired: false,
    loggingOut: false,
    unloading: false,
    chats: new Set(),
    chatAlias: new Map(), // phone-number chat -> the @lid id WhatsApp addresses it by
    queryCache: new Map(),
    msgs: new Map(),
    retryTimer: null,
  };
  let authFlag = sim.widMd !== null; // wa-js registerAuthenticatedEvent's "isAuth"

  const isAuthenticated = () => sim.widMd !== null;
  const myPhone = () => (sim.widMd ? sim.widMd.split(':')[0] : null);

  // --- events, wired the way wa-js registers them ------------------------------------------

  Socket.on('change:state', () => {
    if (isAuthenticated()) {
      sim.requireAuthFired = false;
    } else if (!sim.requireAuthFired && (Socket.state === 'UNPAIRED' || Socket.state === 'UNPAIRED_IDLE')) {
      sim.requireAuthFired = true;
      ev.emit('conn.require_auth');
    }
    if (Socket.state === 'UNPAIRED_IDLE') ev.emit('conn.qrcode_idle');
  });
  Stream.on('change:mode', (model, mode) => {
    ev.emit('conn.stream_mode_changed', mode);
    if (!sim.mainReady && (mode === 'MAIN' || mode === 'QR')) {
      sim.mainReady = true;
      ev.emit('conn.main_ready');
    }
  });
  // wa-js: conn.needs_update when WhatsApp asks for a newer build (Stream.needsUpdate).
  Stream.on('change:needsUpdate', (model, value) => {
    if (value) ev.emit('conn.needs_update');
  });
  Stream.on('change:info', (model, info) => {
    Stream.set('displayInfo', info);
    ev.emit('conn.stream_info_changed', info);
  });
  Conn.on('change:ref', () => {
    getAuthCode().then((code) => ev.emit('conn.auth_code_change', code));
  });

  // --- the link to the simulator server ---------------------------------------------------

  function send(payload) {
    if (sim.ws && sim.ws.readyState === WebSocket.OPEN) sim.ws.send(JSON.stringify(payload));
  }

  function connect() {
    if (sim.unloading) return;
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    sim.ws = ws;
    ws.onmessage = (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      handle(msg).catch((err) => console.error('[wa-simulator]', msg.type, err));
    };
    ws.onclose = () => {
      if (sim.ws === ws) {
        sim.ws = null;
        onLinkLost();
      }
    };
  }

  function onLinkLost() {
    sim.challenge = null;
    sim.loggedIn = false;
    for (const [seq, entry] of sim.requests) {
      if (!entry.once) entry.sent = false; // sent again after login
      else if (sim.requests.delete(seq)) entry.reject(new WPPError('not_connected', 'The link to WhatsApp was lost'));
    }
    if (sim.unloading || sim.loggingOut) return;
    if (isAuthenticated()) {
      Socket.set('state', 'TIMEOUT');
      Socket.set('stream', 'DISCONNECTED');
      Stream.set('mode', 'OFFLINE');
      Stream.set('info', 'OFFLINE');
    } else {
      Conn.set('ref', null);
      Socket.set('state', 'OPENING');
    }
    clearTimeout(sim.retryTimer);
    sim.retryTimer = setTimeout(() => {
      if (isAuthenticated()) {
        Socket.set('state', 'OPENING');
        Stream.set('info', 'CONNECTING');
      }
      connect();
    }, sim.config.reconnectDelayMs);
  }

  async function handle(msg) {
    switch (msg.type) {
      case 'welcome':
        sim.challenge = msg.challenge;
        Object.assign(sim.config, msg.config || {});
        return hello();
      case 'ref':
        if (isAuthenticated()) return;
        Socket.set('state', 'UNPAIRED');
        Stream.set('mode', 'QR');
        Stream.set('info', 'NORMAL');
        Conn.set('ref', msg.ref);
        return;
      case 'idle':
        Conn.set('ref', null);
        Socket.set('state', 'UNPAIRED_IDLE');
        return;
      case 'paired':
        return onPaired(msg);
      case 'pair-failed': // the phone scanned, the link failed: WhatsApp Web shows a new code
        Conn.set('ref', null);
        Socket.set('state', 'PAIRING');
        Socket.set('state', 'UNPAIRED');
        return;
      case 'connected':
        return onConnected(msg);
      case 'rejected':
      case 'logout':
        return logoutLocally(msg.reason || 'unknown_companion');
      case 'conflict':
        sim.loggedIn = false;
        Socket.set('state', 'CONFLICT');
        Stream.set('mode', 'CONFLICT');
        return;
      case 'outdated': // WhatsApp refuses this build (older than the server's minimum)
        sim.loggedIn = false;
        Stream.set('needsUpdate', true);
        Socket.set('state', 'DEPRECATED_VERSION');
        return;
      case 'blocked': // WhatsApp refuses this device: TOS_BLOCK, PROXYBLOCK ...
        sim.loggedIn = false;
        Socket.set('state', String(msg.state));
        return;
      case 'result': {
        const entry = sim.requests.get(msg.seq);
        if (entry) {
          sim.requests.delete(msg.seq);
          entry.resolve(msg);
        }
        return;
      }
      case 'ack':
        return onAck(msg);
      case 'message':
        return onIncoming(msg.message);
      default:
        return; // 'unavailable' and future types: the socket closes or nothing changes
    }
  }

  function randomKey() {
    return B.toBase64(crypto.getRandomValues(new Uint8Array(32)));
  }

  async function hello() {
    if (!isAuthenticated()) {
      sim.keys = sim.keys || { staticKeyPair: randomKey(), identityKeyPair: randomKey(), secretKey: randomKey() };
      send({ type: 'hello', deviceId: null, keys: sim.keys, version: WHATSAPP_WEB_VERSION });
      return;
    }
    let record = null;
    try {
      record = await storage.loadCredentials();
    } catch (err) {
      record = null;
    }
    if (!cryptoKeys.usable(record) || record.deviceId !== sim.widMd) {
      // e.g. a storage_state copy: the CryptoKey came back as {} (it cannot be serialized)
      return logoutLocally('web_fail_storage_initialization');
    }
    let signature;
    try {
      signature = await cryptoKeys.sign(record.keyPair.privateKey, sim.challenge);
    } catch (err) {
      return logoutLocally('web_fail_storage_initialization');
    }
    send({ type: 'hello', deviceId: sim.widMd, signature, version: WHATSAPP_WEB_VERSION });
  }

  async function onPaired(msg) {
    Conn.set('ref', null);
    Socket.set('state', 'PAIRING');
    Stream.set('info', 'PAIRING');
    const keyPair = await cryptoKeys.generate(); // the private key is NOT extractable
    await storage.saveCredentials({ deviceId: msg.deviceId, keyPair, pairedAt: Date.now() });
    storage.writeWid(msg.deviceId);
    sim.widMd = msg.deviceId;
    sim.keys = null;
    const publicKey = await cryptoKeys.exportPublic(keyPair.publicKey);
    const signature = await cryptoKeys.sign(keyPair.privateKey, sim.challenge);
    Socket.set('state', 'OPENING');
    send({ type: 'register', deviceId: msg.deviceId, publicKey, signature });
  }

  function onConnected(msg) {
    sim.loggedIn = true;
    Socket.set('state', 'CONNECTED');
    Socket.set('stream', 'CONNECTED');
    if (!sim.mainLoaded) {
      Stream.set('mode', 'SYNCING');
      Stream.set('info', 'SYNCING');
      sim.mainLoaded = true;
      if (!authFlag) ev.emit('conn.authenticated'); // wa-js: on main_loaded, unless authenticated at boot
      if (sim.config.reloadAfterPairing && !authFlag && !msg.resumed) {
        sim.unloading = true;
        setTimeout(() => location.reload(), 100);
        return;
      }
    } else {
      Stream.set('info', 'RESUMING');
    }
    Stream.set('mode', 'MAIN');
    Stream.set('info', 'NORMAL');
    flushRequests();
  }

  async function logoutLocally(reason) {
    if (sim.loggingOut) return;
    sim.loggingOut = true;
    const wasAuthenticated = isAuthenticated();
    ev.emit('conn.logout_reason', reason);
    await storage.clear();
    sim.widMd = null;
    sim.loggedIn = false;
    sim.mainLoaded = false;
    authFlag = false;
    sim.chats.clear();
    sim.queryCache.clear();
    for (const entry of sim.requests.values()) entry.reject(new WPPError('logout', 'The session was logged out'));
    sim.requests.clear();
    Conn.set('ref', null);
    Socket.set('state', 'UNPAIRED');
    if (wasAuthenticated) ev.emit('conn.logout');
    if (sim.config.reloadOnLogout) {
      sim.unloading = true;
      setTimeout(() => location.replace(location.pathname + '?post_logout=1'), 300);
      return;
    }
    sim.loggingOut = false;
    if (sim.ws && sim.ws.readyState === WebSocket.OPEN && sim.challenge) await hello();
  }

  // --- requests that need a logged-in connection (queued while offline or in conflict) ---

  function request(payload) {
    return new Promise((resolve, reject) => {
      const seq = ++sim.seq;
      sim.requests.set(seq, { payload: Object.assign({ seq }, payload), resolve, reject, sent: false });
      flushRequests();
    });
  }

  function flushRequests() {
    if (!sim.loggedIn || !sim.ws || sim.ws.readyState !== WebSocket.OPEN) return;
    for (const entry of sim.requests.values()) {
      if (!entry.sent) {
        entry.sent = true;
        sim.ws.send(JSON.stringify(entry.payload));
      }
    }
  }

  function onAck(msg) {
    const chat = new Wid(msg.chat);
    const ids = msg.ids.map((id) => new MsgKey({ fromMe: true, remote: chat, id }));
    for (const key of ids) {
      const stored = sim.msgs.get(key.id);
      if (stored) stored.ack = msg.ack;
    }
    queueMicrotask(() => ev.emit('chat.msg_ack_change', { ack: msg.ack, chat, sender: undefined, ids }));
  }

  function onIncoming(m) {
    const from = new Wid(m.from);
    const to = new Wid(m.to);
    const msg = new MsgModel({
      id: new MsgKey({ fromMe: false, remote: from, id: m.id }),
      type: m.type || 'chat',
      body: m.body,
      t: m.t,
      notifyName: m.notifyName || '',
      from,
      to,
      self: 'in',
      isNewMsg: true,
      isGroupMsg: false,
    });
    sim.msgs.set(msg.id.id, msg);
    queueMicrotask(() => ev.emit('chat.new_message', msg));
  }

  // --- WPP.conn.getAuthCode (the rest of WPP.conn: wa-conn.js) ------------------------------

  async function getAuthCode() {
    const ref = Conn.get('ref');
    if (!ref || isAuthenticated() || !sim.keys) return null;
    const { staticKeyPair, identityKeyPair, secretKey } = sim.keys;
    return {
      type: 'multidevice',
      ref,
      staticKeyPair,
      identityKeyPair,
      secretKey,
      fullCode: [ref, staticKeyPair, identityKeyPair, secretKey].join(','),
    };
  }

  const whatsapp = { Socket, Stream, Conn, Wid, MsgKey };
  const parts = { ev, whatsapp, sim, send, request, getAuthCode, logoutLocally, isAuthenticated, myPhone, SEND_DEFAULTS, UPLOAD_LIMITS, WAJS_VERSION, SIMULATOR_VERSION, WHATSAPP_WEB_VERSION };
  Object.defineProperty(window, '__waSimCore', { value: parts, enumerable: false, configurable: true });
  parts.start = connect;
})();
