/*
 * WhatsApp Web simulator, part 4 of 4: WPP.chat and WPP.contact (with wa-js's file
 * decoding for sendFileMessage), then window.WPP itself
 * (replacing any WPP an init script defined: the real wa-js bundle cannot work on this
 * page) and the start of the link.
 *
 * Returns follow chat/types.d.ts SendMessageReturn: {id, ack, from, to, sendMsgResult} for
 * text, location and vCard messages (wa-js sendRawMessage) and {id, ack, sendMsgResult}
 * for files (wa-js sendFileMessage). `id` is the serialized MsgKey
 * 'true_<chat>_<3EB0...>', `ack` is 1 once the server took the message (0 with
 * {waitForAck: false}) and sendMsgResult is {messageSendResult: 'OK', t, count} or null.
 */
(function () {
  'use strict';

  const B = window.__waSimBase;
  const core = window.__waSimCore;
  const { WPPError, Wid, MsgKey, MsgModel } = B;
  const { ev, sim, request } = core;

  // --- files (sendFileMessage content) ----------------------------------------------------

  const SIGNATURES = [
    ['image/png', 'png', [0x89, 0x50, 0x4e, 0x47]],
    ['image/jpeg', 'jpg', [0xff, 0xd8, 0xff]],
    ['image/gif', 'gif', [0x47, 0x49, 0x46, 0x38]],
    ['application/pdf', 'pdf', [0x25, 0x50, 0x44, 0x46]],
    ['audio/ogg', 'ogg', [0x4f, 0x67, 0x67, 0x53]],
    ['audio/mpeg', 'mp3', [0x49, 0x44, 0x33]],
    ['application/zip', 'zip', [0x50, 0x4b, 0x03, 0x04]],
  ];

  function sniff(bytes) {
    for (const [mime, ext, magic] of SIGNATURES) {
      if (magic.every((b, i) => bytes[i] === b)) return { mime, ext };
    }
    const text = String.fromCharCode.apply(null, bytes.subarray(0, 12));
    if (text.startsWith('RIFF') && text.slice(8, 12) === 'WEBP') return { mime: 'image/webp', ext: 'webp' };
    if (text.slice(4, 8) === 'ftyp') return { mime: 'video/mp4', ext: 'mp4' };
    return null;
  }

  /** wa-js convertToFile: a data URL, bare base64, an http(s) URL or a Blob/File. */
  async function convertToFile(data, mimetype, filename) {
    let bytes;
    if (typeof Blob !== 'undefined' && data instanceof Blob) {
      bytes = new Uint8Array(await data.arrayBuffer());
      mimetype = mimetype || data.type || undefined;
      filename = filename || data.name || undefined;
    } else if (typeof data === 'string' && /^https?:\/\//i.test(data)) {
      const response = await fetch(data);
      const blob = await response.blob();
      bytes = new Uint8Array(await blob.arrayBuffer());
      mimetype = mimetype || blob.type || undefined;
    } else if (typeof data === 'string') {
      const match = /^data:([^;,]*)((?:;[^;,]*)*?),(.*)$/s.exec(data);
      let payload;
      if (match) {
        mimetype = mimetype || match[1] || undefined;
        payload = match[2].includes(';base64') ? match[3] : btoa(unescape(match[3]));
      } else if (/^[A-Za-z0-9+/\s]+={0,2}$/.test(data) && data.replace(/\s/g, '').length % 4 === 0) {
        payload = data;
      } else {
        throw 'invalid_data_url'; // wa-js throws this string, not an Error
      }
      try {
        bytes = B.fromBase64(payload.replace(/\s/g, ''));
      } catch (err) {
        throw 'invalid_data_url';
      }
    } else {
      throw 'invalid_data_url';
    }
    if (!filename || !mimetype) {
      const found = sniff(bytes);
      if (found) {
        filename = filename || found.mime.split('/')[0] + '.' + found.ext;
        mimetype = mimetype || found.mime;
      }
      filename = filename || 'unknown';
      mimetype = mimetype || 'application/octet-stream';
    }
    return { bytes, mimetype, filename };
  }

  function toError(error) {
    return new WPPError((error && error.code) || 'unknown', (error && error.message) || 'Request failed');
  }

  /** wa-js assertFindChat: the chat must exist, i.e. the number must be on WhatsApp. */
  async function findChat(chatId) {
    const wid = B.assertWid(chatId);
    if (!core.isAuthenticated()) {
      throw new WPPError('not_authenticated', 'The page is not logged in: scan its QR code first');
    }
    if (!wid.isUser()) throw new WPPError('chat_not_found', 'Chat not found for ' + wid);
    const known = () => (sim.chatAlias.has(wid._serialized) ? new Wid(sim.chatAlias.get(wid._serialized)) : wid);
    if (sim.chats.has(wid._serialized)) return known();
    const answer = await request({ type: 'find-chat', user: wid.user, server: wid.server });
    if (!answer.ok) throw toError(answer.error);
    if (!answer.exists) throw new WPPError('chat_not_found', 'Chat not found for ' + chatId);
    sim.chats.add(wid._serialized);
    // WhatsApp addresses this chat by its LID: the chat (and its messages' keys) use it.
    if (answer.lid && answer.lid !== wid._serialized) sim.chatAlias.set(wid._serialized, answer.lid);
    return known();
  }

  function messageKey(chat, options) {
    if (!options.messageId) return new MsgKey({ fromMe: true, remote: chat, id: B.randomMessageId() });
    const key = typeof options.messageId === 'string' ? MsgKey.fromString(options.messageId) : new MsgKey(options.messageId);
    if (!key.fromMe) {
      throw new WPPError('message_key_is_not_from_me', 'Message key is not from me', { messageId: key.toString() });
    }
    if (!key.remote.equals(chat)) {
      throw new WPPError('message_key_remote_id_is_not_same_of_chat', 'Message key remote ID is not same of chat', {
        messageId: key.toString(),
      });
    }
    return key;
  }

  /** Add the message locally (chat.new_message), hand it to the server, wait for ack 1. */
  async function dispatch(chat, options, model, wire, withAddressing) {
    const key = messageKey(chat, options);
    const from = new Wid(core.myPhone() + '@c.us');
    if (options.delay) await new Promise((resolve) => setTimeout(resolve, options.delay));
    const msg = new MsgModel(
      Object.assign({ id: key, from, to: chat, t: Math.floor(Date.now() / 1000), self: 'out', isNewMsg: true, local: true, ack: 0 }, model)
    );
    sim.msgs.set(key.id, msg);
    queueMicrotask(() => ev.emit('chat.new_message', msg));
    const sending = request({ type: 'send', message: Object.assign({ id: key.id, to: chat._serialized }, wire) }).then((answer) => {
      if (!answer.ok) {
        msg.ack = -1;
        return { messageSendResult: 'ERROR_UNKNOWN' };
      }
      msg.t = answer.t || msg.t;
      msg.ack = 1;
      queueMicrotask(() => ev.emit('chat.msg_ack_change', { ack: 1, chat: msg.to, ids: [msg.id] }));
      return { messageSendResult: 'OK', t: answer.t, count: null };
    });
    let sendMsgResult = null;
    if (options.waitForAck) {
      sendMsgResult = await sending;
    } else {
      sending.catch(() => null);
    }
    const result = { id: key.toString(), ack: msg.ack };
    if (withAddressing) {
      result.from = from.toString();
      result.to = chat.toString();
    }
    result.sendMsgResult = sendMsgResult;
    return result;
  }

  async function sendTextMessage(chatId, content, options) {
    options = Object.assign({}, core.SEND_DEFAULTS, options || {});
    const chat = await findChat(chatId);
    const body = content == null ? '' : String(content);
    return dispatch(chat, options, { type: 'chat', body }, { type: 'chat', body }, true);
  }

  function mediaType(options, mimetype) {
    switch (options.type) {
      case 'image':
      case 'video':
      case 'document':
      case 'sticker':
        return options.type;
      case 'audio':
        return options.isPtt ? 'ptt' : 'audio';
      default: {
        const base = (mimetype || '').split('/')[0];
        if (base === 'image' || base === 'video' || base === 'audio') return base;
        return 'document';
      }
    }
  }

  function formatSize(bytes) {
    return bytes >= 1024 * 1024 ? (bytes / 1024 / 1024).toFixed(2) + ' MB' : (bytes / 1024).toFixed(2) + ' KB';
  }

  async function sendFileMessage(chatId, content, options) {
    options = Object.assign({}, core.SEND_DEFAULTS, { type: 'auto-detect', waveform: true }, options || {});
    const chat = await findChat(chatId);
    const file = await convertToFile(content, options.mimetype, options.filename);
    const type = mediaType(options, file.mimetype);
    const limit = core.UPLOAD_LIMITS[type];
    if (file.bytes.length > limit) {
      throw new WPPError(
        'file_too_large',
        'File size ' + formatSize(file.bytes.length) + ' exceeds the upload limit of ' + formatSize(limit) + ' for ' + type + ' files',
        { fileSize: file.bytes.length, limit, mediaType: type }
      );
    }
    const caption = options.caption == null ? undefined : String(options.caption);
    const model = { type, caption, filename: file.filename, mimetype: file.mimetype, size: file.bytes.length, isCaptionByUser: caption !== undefined };
    const wire = { type, caption, filename: file.filename, mimetype: file.mimetype, media: B.toBase64(file.bytes) };
    return dispatch(chat, options, model, wire, false);
  }

  async function sendLocationMessage(chatId, options) {
    options = Object.assign({}, core.SEND_DEFAULTS, options || {});
    const lat = typeof options.lat === 'string' ? parseFloat(options.lat) : options.lat;
    const lng = typeof options.lng === 'string' ? parseFloat(options.lng) : options.lng;
    const chat = await findChat(chatId);
    if (!Number.isFinite(lat) || !Number.isFinite(lng) || Math.abs(lat) > 90 || Math.abs(lng) > 180) {
      throw new WPPError('invalid_location', 'lat and lng must be degrees (lat -90..90, lng -180..180)');
    }
    const loc = options.name && options.address ? options.name + '\n' + options.address : options.name || options.address || '';
    const location = { lat, lng, name: options.name, address: options.address, url: options.url };
    return dispatch(chat, options, { type: 'location', lat, lng, loc, clientUrl: options.url }, { type: 'location', location }, true);
  }

  function vcardText(wid, name) {
    return ['BEGIN:VCARD', 'VERSION:3.0', 'N:;' + name + ';;;', 'FN:' + name, 'TEL;type=CELL;type=VOICE;waid=' + wid.user + ':+' + wid.user, 'END:VCARD'].join('\n');
  }

  async function sendVCardContactMessage(chatId, contacts, options) {
    options = Object.assign({}, core.SEND_DEFAULTS, options || {});
    const list = (Array.isArray(contacts) ? contacts : [contacts]).map((contact) => {
      const named = contact !== null && typeof contact === 'object' && 'name' in contact;
      const wid = B.assertWid(named ? contact.id : contact);
      const name = (named && contact.name) || '+' + wid.user;
      return { wid, name, vcard: vcardText(wid, name) };
    });
    const chat = await findChat(chatId);
    const recorded = list.map((c) => ({ id: c.wid.toString(), name: c.name }));
    const model =
      list.length === 1
        ? { type: 'vcard', body: list[0].vcard, vcardFormattedName: list[0].name }
        : { type: 'multi_vcard', vcardList: list.map((c) => ({ displayName: c.name, vcard: c.vcard })) };
    const wire = { type: model.type, contacts: recorded, vcard: list.map((c) => c.vcard).join('\n') };
    return dispatch(chat, options, model, wire, true);
  }

  /** wa-js queryWidExists: {wid, biz, ...} or null; results cached (5 min hit, 15 s miss). */
  async function queryExists(contactId) {
    const wid = B.assertWid(contactId);
    const cacheKey = '+' + wid._serialized;
    if (sim.queryCache.has(cacheKey)) return sim.queryCache.get(cacheKey);
    const promise = (async () => {
      if (!core.isAuthenticated() || !wid.isUser()) return null;
      try {
        const answer = await request({ type: 'query-exists', user: wid.user, server: wid.server });
        if (!answer.ok || !answer.exists) return null;
        return answer.lid ? { wid, biz: false, lid: new Wid(answer.lid) } : { wid, biz: false };
      } catch (err) {
        return null;
      }
    })().then((result) => {
      setTimeout(() => sim.queryCache.delete(cacheKey), result ? sim.config.queryCacheHitMs : sim.config.queryCacheMissMs);
      return result;
    });
    sim.queryCache.set(cacheKey, promise);
    return promise;
  }

  // --- window.WPP ---------------------------------------------------------------------------

  let ready = false;
  const loader = {
    loaderType: 'simulator',
    get isInjected() {
      return ready;
    },
    get isReady() {
      return ready;
    },
    get isFullReady() {
      return ready;
    },
    onInjected: (listener) => (ready ? listener() : ev.once('loader.injected', listener)),
    onReady: (listener) => (ready ? listener() : ev.once('loader.ready', listener)),
    onFullReady: (listener) => (ready ? listener() : ev.once('loader.full_ready', listener)),
  };

  const WPP = {
    version: core.WAJS_VERSION,
    supportedWhatsappWeb: 'simulator',
    license: 'Apache-2.0',
    loader,
    conn: core.conn,
    chat: { sendTextMessage, sendFileMessage, sendLocationMessage, sendVCardContactMessage, find: findChat },
    contact: { queryExists, queryWidExists: queryExists },
    whatsapp: core.whatsapp,
    ev,
  };
  for (const name of ['on', 'off', 'once', 'onAny', 'offAny', 'waitFor', 'emit', 'addListener', 'removeListener', 'removeAllListeners', 'listenerCount', 'listeners', 'hasListeners', 'eventNames']) {
    WPP[name] = ev[name].bind(ev);
  }
  for (const name of ['isInjected', 'isReady', 'isFullReady']) {
    Object.defineProperty(WPP, name, { get: () => ready, enumerable: true });
  }

  try {
    Object.defineProperty(window, 'WPP', { value: WPP, writable: true, configurable: true, enumerable: true });
  } catch (err) {
    window.WPP = WPP;
  }
  window.__waSimulator = {
    simulator: true,
    version: core.SIMULATOR_VERSION,
    waJsVersion: core.WAJS_VERSION,
    preexistingWPP: B.preexistingWPP,
    replacedWPP: window.WPP === WPP,
  };
  window.Debug = Object.assign(window.Debug || {}, { VERSION: core.WHATSAPP_WEB_VERSION });
  Object.defineProperty(window, '__waSimulatorWPP', { value: WPP, enumerable: false, configurable: true });

  ready = true;
  ev.emit('loader.injected');
  ev.emit('loader.ready');
  ev.emit('loader.full_ready');
  // Simulator-only test hook (no such thing in wa-js): an init script may set
  // window.__waSimulatorBeforeStart = (WPP) => {...} to subscribe before any event fires.
  if (typeof window.__waSimulatorBeforeStart === 'function') {
    try {
      window.__waSimulatorBeforeStart(WPP);
    } catch (err) {
      console.error('[wa-simulator] __waSimulatorBeforeStart threw', err);
    }
  }
  core.start();
})();
