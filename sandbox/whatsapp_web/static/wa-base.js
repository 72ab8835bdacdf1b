/*
 * WhatsApp Web simulator, part 1 of 4: the building blocks (events, Backbone-style models,
 * Wid, MsgKey, WPPError, IndexedDB/localStorage, WebCrypto).
 *
 * Shapes follow the pinned @wppconnect/wa-js declarations (dist/**.d.ts): a Wid has
 * `server`, `user`, `_serialized`; a MsgKey has `fromMe`, `remote` (Wid), `id`,
 * `_serialized`; errors are Errors with a `code` (wa-js WPPError).
 * See docs/whatsapp-web-simulator.md. Nothing here talks to WhatsApp.
 */
(function () {
  'use strict';

  // Recorded before anything of ours touches window.WPP: the bridge injects the real
  // wa-js bundle with an init script, which runs before this page's scripts.
  const preexistingWPP = typeof window.WPP !== 'undefined';

  /** eventemitter2-style emitter (the subset wa-js exposes as WPP.on/off/once/waitFor). */
  class EventEmitter {
    constructor() {
      this._listeners = new Map();
      this._any = [];
    }
    on(event, listener) {
      if (typeof listener !== 'function') throw new TypeError('listener must be a function');
      if (!this._listeners.has(event)) this._listeners.set(event, []);
      this._listeners.get(event).push(listener);
      return this;
    }
    addListener(event, listener) {
      return this.on(event, listener);
    }
    once(event, listener) {
      const wrapper = (...args) => {
        this.off(event, wrapper);
        listener.apply(this, args);
      };
      wrapper.listener = listener;
      return this.on(event, wrapper);
    }
    off(event, listener) {
      const list = this._listeners.get(event);
      if (!list) return this;
      const index = list.findIndex((l) => l === listener || l.listener === listener);
      if (index >= 0) list.splice(index, 1);
      return this;
    }
    removeListener(event, listener) {
      return this.off(event, listener);
    }
    removeAllListeners(event) {
      if (event === undefined) this._listeners.clear();
      else this._listeners.delete(event);
      return this;
    }
    onAny(listener) {
      this._any.push(listener);
      return this;
    }
    offAny(listener) {
      this._any = this._any.filter((l) => l !== listener);
      return this;
    }
    listeners(event) {
      return (this._listeners.get(event) || []).slice();
    }
    listenerCount(event) {
      return this.listeners(event).length;
    }
    hasListeners(event) {
      return event === undefined ? this._listeners.size > 0 : this.listenerCount(event) > 0;
    }
    eventNames() {
      return Array.from(this._listeners.keys()).filter((e) => this.listenerCount(e) > 0);
    }
    emit(event, ...args) {
      const list = this.listeners(event);
      for (const listener of list) {
        try {
          listener.apply(this, args);
        } catch (err) {
          console.error('[wa-simulator] listener of', event, 'threw', err);
        }
      }
      for (const listener of this._any.slice()) {
        try {
          listener.call(this, event, ...args);
        } catch (err) {
          console.error('[wa-simulator] onAny listener threw', err);
        }
      }
      return list.length > 0;
    }
    /** Resolves with the array of the event's arguments, as eventemitter2 does. */
    waitFor(event, options) {
      const timeout = typeof options === 'number' ? options : (options && options.timeout) || 0;
      return new Promise((resolve, reject) => {
        let timer = null;
        const listener = (...args) => {
          if (timer) clearTimeout(timer);
          this.off(event, listener);
          resolve(args);
        };
        this.on(event, listener);
        if (timeout > 0) {
          timer = setTimeout(() => {
            this.off(event, listener);
            reject(new Error('timeout'));
          }, timeout);
        }
      });
    }
  }

  /** Backbone-style model: get/set, 'change:<attr>' events called with (model, value). */
  class Model {
    constructor(attributes) {
      this.attributes = Object.assign({}, attributes);
      this._events = new EventEmitter();
    }
    get(name) {
      return this.attributes[name];
    }
    set(name, value) {
      if (this.attributes[name] === value) return this;
      this.attributes[name] = value;
      this._events.emit('change:' + name, this, value);
      this._events.emit('change', this);
      return this;
    }
    on(event, callback, context) {
      if (context) {
        const bound = callback.bind(context);
        bound.listener = callback; // so that off(event, callback) finds it
        this._events.on(event, bound);
      } else {
        this._events.on(event, callback);
      }
      return this;
    }
    once(event, callback) {
      this._events.once(event, callback);
      return this;
    }
    off(event, callback) {
      if (event === undefined) this._events.removeAllListeners();
      else if (callback === undefined) this._events.removeAllListeners(event);
      else this._events.off(event, callback);
      return this;
    }
    trigger(event, ...args) {
      this._events.emit(event, ...args);
      return this;
    }
    toJSON() {
      return Object.assign({}, this.attributes);
    }
  }

  class WPPError extends Error {
    constructor(code, message, extra) {
      super(message);
      this.code = code;
      Object.assign(this, extra || {});
    }
  }

  class Wid {
    constructor(id) {
      const at = id.indexOf('@');
      this.server = id.slice(at + 1);
      this.user = id.slice(0, at);
      this._serialized = id;
    }
    toString() {
      return this._serialized;
    }
    toJSON() {
      return this._serialized;
    }
    equals(other) {
      if (other == null) return false;
      return (typeof other === 'string' ? other : other._serialized) === this._serialized;
    }
    isUser() {
      return this.server === 'c.us' || this.server === 'lid';
    }
    isLid() {
      return this.server === 'lid';
    }
    isGroup() {
      return this.server === 'g.us';
    }
    isBroadcast() {
      return this.server === 'broadcast';
    }
    isNewsletter() {
      return this.server === 'newsletter';
    }
  }

  /** wa-js createWid: digits -> c.us, '@lid' -> lid, 'a-b' -> g.us; undefined if unusable. */
  function createWid(id) {
    if (!id) return undefined;
    if (id instanceof Wid) return id;
    if (typeof id === 'object' && typeof id._serialized === 'string') id = id._serialized;
    if (typeof id !== 'string') return undefined;
    const match = /^([0-9]+)(?::[0-9]+)?(?:@(c\.us|s\.whatsapp\.net|lid|g\.us))?$/.exec(id.trim());
    if (match) {
      let server = match[2] || 'c.us';
      if (server === 's.whatsapp.net') server = 'c.us';
      return new Wid(match[1] + '@' + server);
    }
    if (/^[0-9]+-[0-9]+(@g\.us)?$/.test(id)) return new Wid(id.replace(/@g\.us$/, '') + '@g.us');
    if (/^status(@broadcast)?$/.test(id)) return new Wid('status@broadcast');
    return undefined;
  }

  function assertWid(id) {
    const wid = createWid(id);
    if (!wid) {
      throw new WPPError('invalid_wid', 'Invalid WID value for ' + (id && id._serialized ? id._serialized : id));
    }
    return wid;
  }

  class MsgKey {
    constructor(options) {
      this.fromMe = !!options.fromMe;
      this.remote = options.remote instanceof Wid ? options.remote : new Wid(String(options.remote));
      this.id = options.id;
      this.participant = options.participant;
      this._serialized =
        String(this.fromMe) + '_' + this.remote._serialized + '_' + this.id +
        (this.participant ? '_' + this.participant._serialized : '');
    }
    toString() {
      return this._serialized;
    }
    equals(other) {
      return other != null && other._serialized === this._serialized;
    }
    static fromString(text) {
      const match = /^(true|false)_([^_]+@[^_]+)_([0-9A-Za-z]+)(?:_(.+))?$/.exec(String(text));
      if (!match) throw new WPPError('invalid_message_key', 'Invalid message key ' + text);
      return new MsgKey({
        fromMe: match[1] === 'true',
        remote: new Wid(match[2]),
        id: match[3],
        participant: match[4] ? new Wid(match[4]) : undefined,
      });
    }
  }

  /** A message model: the MsgModel attributes the bridge reads, as own properties. */
  class MsgModel {
    constructor(attributes) {
      Object.assign(this, attributes);
    }
    get(name) {
      return this[name];
    }
    serialize() {
      return JSON.parse(JSON.stringify(this));
    }
  }

  /** WhatsApp Web ids of messages sent from the web: '3EB0' + 16 upper-case hex digits. */
  function randomMessageId() {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    return '3EB0' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
  }

  function toBase64(buffer) {
    const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function fromBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  // --- persistent storage, where WhatsApp Web keeps it ----------------------------------

  const DB_NAME = 'wawc';
  const DB_STORE = 'user';
  const WID_KEY = 'last-wid-md';

  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(DB_STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function dbRequest(mode, action) {
    const db = await openDb();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(DB_STORE, mode);
        const request = action(tx.objectStore(DB_STORE));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  const storage = {
    readWid() {
      try {
        const raw = localStorage.getItem(WID_KEY);
        const wid = raw ? JSON.parse(raw) : null;
        return typeof wid === 'string' && /^[0-9]+:[0-9]+@c\.us$/.test(wid) ? wid : null;
      } catch (err) {
        return null;
      }
    },
    writeWid(wid) {
      localStorage.setItem(WID_KEY, JSON.stringify(wid));
    },
    loadCredentials() {
      return dbRequest('readonly', (store) => store.get('companion'));
    },
    saveCredentials(record) {
      return dbRequest('readwrite', (store) => store.put(record, 'companion'));
    },
    async clear() {
      localStorage.removeItem(WID_KEY);
      try {
        await dbRequest('readwrite', (store) => store.clear());
      } catch (err) {
        console.warn('[wa-simulator] could not clear IndexedDB', err);
      }
    },
  };

  // --- WebCrypto: the device key never leaves the browser --------------------------------

  const cryptoKeys = {
    /** A new ECDSA P-256 pair whose private key is NOT extractable. */
    generate() {
      return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
        'sign',
        'verify',
      ]);
    },
    async exportPublic(publicKey) {
      return toBase64(await crypto.subtle.exportKey('spki', publicKey));
    },
    /** Base64 raw (r || s) signature over the bytes of `challenge` (base64). */
    async sign(privateKey, challenge) {
      const signature = await crypto.subtle.sign(
        { name: 'ECDSA', hash: 'SHA-256' },
        privateKey,
        fromBase64(challenge)
      );
      return toBase64(signature);
    },
    usable(record) {
      return (
        record != null &&
        record.keyPair != null &&
        record.keyPair.privateKey instanceof CryptoKey &&
        record.keyPair.publicKey instanceof CryptoKey
      );
    },
  };

  Object.defineProperty(window, '__waSimBase', {
    value: Object.freeze({
      preexistingWPP,
      EventEmitter,
      Model,
      WPPError,
      Wid,
      MsgKey,
      MsgModel,
      createWid,
      assertWid,
      randomMessageId,
      toBase64,
      fromBase64,
      storage,
      cryptoKeys,
    }),
    enumerable: false,
    configurable: true,
    writable: false,
  });
})();
