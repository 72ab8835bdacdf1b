// Herald's WhatsApp session console (streams/web/console.py, docs/whatsapp-web.md).
//
// The API key lives in this closure only: never in localStorage, sessionStorage, cookies
// or the URL. Event streams are read with fetch() (EventSource cannot send an
// Authorization header). Everything a server sends is written with textContent, never
// parsed as HTML.
"use strict";

(function () {
  const LOGGED_IN = new Set(["isLogged", "qrReadSuccess", "inChat"]);
  const CLOSED = new Set([
    "browserClose", "autocloseCalled", "disconnectedMobile", "deleteToken",
    "serverClose", "sessionFailed", "sessionRefused",
  ]);
  const STATUS_TEXT = {
    notLogged: "Waiting for the phone: scan the QR code",
    qrReadSuccess: "QR code scanned",
    qrReadFail: "The scan failed: try again",
    qrReadError: "The QR code could not be read",
    isLogged: "Logged in",
    inChat: "Connected",
    phoneNotConnected: "Logged in, the phone is offline",
    browserClose: "Session closed",
    autocloseCalled: "Closed: nobody scanned in time",
    disconnectedMobile: "Logged out from the phone",
    deleteToken: "Login deleted",
    serverClose: "Closed by the server",
    sessionFailed: "The session failed",
    sessionRefused: "No room for the session on this worker",
  };
  const DATA_PNG = /^data:image\/png;base64,[A-Za-z0-9+/=]+$/;
  const TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

  let apiKey = null; // the tab's memory, nothing else
  let tenant = null;
  let controller = null; // aborts the running stream
  let retryTimer = null;
  const cards = new Map(); // session name -> card elements
  let counter = 0;

  const $ = (id) => document.getElementById(id);

  function say(element, text) {
    element.textContent = text;
  }

  function sessionPath(suffix) {
    return "/webhooks/wppconnect/session/" + encodeURIComponent(tenant) + suffix;
  }

  function authHeaders(extra) {
    return Object.assign({ Authorization: "Bearer " + apiKey }, extra || {});
  }

  // --- session cards --------------------------------------------------------------------

  function card(name) {
    const key = String(name || "tenant-" + tenant);
    let found = cards.get(key);
    if (found) return found;
    const node = $("session-template").content.firstElementChild.cloneNode(true);
    const id = "s" + (++counter);
    const q = (cls) => node.querySelector("." + cls);
    found = {
      node: node,
      name: q("session-name"),
      status: q("status"),
      state: q("state"),
      phone: q("phone"),
      detail: q("detail"),
      announce: q("announce"),
      qr: q("qr"),
      qrImage: q("qr-image"),
      qrExpiry: q("qr-expiry"),
      pair: q("pair"),
      pairPhone: q("pair-phone"),
      pairResult: q("pair-result"),
      pairCode: q("pair-code"),
      pairCodeValue: q("pair-code-value"),
      actionResult: q("action-result"),
      expiryTimer: null,
      lastStatus: null,
      sessionName: null,
    };
    node.setAttribute("aria-labelledby", id + "-name");
    found.name.id = id + "-name";
    say(found.name, key);
    found.pairPhone.id = id + "-phone";
    q("pair-label").htmlFor = found.pairPhone.id;
    found.pair.addEventListener("submit", (event) => {
      event.preventDefault();
      requestPairingCode(found);
    });
    q("act-connect").addEventListener("click", () => command(found, "connect"));
    q("act-disconnect").addEventListener("click", () => command(found, "disconnect"));
    q("act-logout").addEventListener("click", () => {
      if (window.confirm("Log out this number? A new QR scan will be needed.")) {
        command(found, "logout");
      }
    });
    cards.set(key, found);
    $("sessions").appendChild(node);
    return found;
  }

  // A card per session: keyed by the session's id, titled by its name when it has one
  // (several numbers per tenant add ``sessionName`` to the events).
  function nameOf(data) {
    return data.session || "tenant-" + tenant;
  }

  function cardOf(data) {
    const c = card(nameOf(data));
    if (data.sessionName) {
      c.sessionName = String(data.sessionName);
      say(c.name, c.sessionName + " (" + nameOf(data) + ")");
    }
    return c;
  }

  // The session endpoints pick one of several sessions with ``?session=<sessionName>``;
  // a card that knows no name acts on the tenant's default session.
  function selector(c) {
    return c.sessionName ? "?session=" + encodeURIComponent(c.sessionName) : "";
  }

  function hideQr(c) {
    c.qr.hidden = true;
    c.qrImage.removeAttribute("src");
    if (c.expiryTimer) clearTimeout(c.expiryTimer);
    c.expiryTimer = null;
  }

  function showStatus(data) {
    const c = cardOf(data);
    const status = String(data.status);
    const text = STATUS_TEXT[status] || status;
    say(c.status, text + " (" + status + ")");
    c.node.dataset.status = status;
    say(c.phone, data.phone ? "+" + String(data.phone).replace(/^\+/, "") : "—");
    say(c.detail, data.detail ? String(data.detail) : "—");
    if (LOGGED_IN.has(status) || CLOSED.has(status)) {
      hideQr(c);
      c.pairCode.hidden = true;
    }
    c.pair.hidden = LOGGED_IN.has(status);
    if (c.lastStatus !== status) say(c.announce, nameOf(data) + ": " + text);
    c.lastStatus = status;
  }

  function showState(data) {
    const c = cardOf(data);
    say(c.state, String(data.state));
    c.node.dataset.state = String(data.state);
    if (data.state === "CONNECTED") say(c.announce, nameOf(data) + ": connected");
  }

  function showQr(data) {
    const c = cardOf(data);
    if (typeof data.qrCode !== "string" || !DATA_PNG.test(data.qrCode)) return;
    c.qrImage.src = data.qrCode;
    c.qr.hidden = false;
    c.qrImage.dataset.ref = String(data.qrRef || "");
    const expires = Date.parse(data.expiresAt);
    if (c.expiryTimer) clearTimeout(c.expiryTimer);
    if (!Number.isNaN(expires)) {
      say(c.qrExpiry, "Valid until " + new Date(expires).toLocaleTimeString() + ".");
      c.expiryTimer = setTimeout(() => hideQr(c), Math.max(0, expires - Date.now()));
    }
  }

  function showPairingCode(c, code, expiresAt) {
    say(c.pairCodeValue, String(code));
    c.pairCode.hidden = false;
    const expires = Date.parse(expiresAt);
    say(c.pairResult, Number.isNaN(expires) ? "" :
      "Valid until " + new Date(expires).toLocaleTimeString() + ".");
  }

  // --- actions --------------------------------------------------------------------------

  async function post(path, body) {
    const init = { method: "POST", headers: authHeaders(), cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(sessionPath(path), init);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { status: response.status, data: data };
  }

  function refusal(status, data) {
    if (status === 401) return "The API key was refused.";
    if (status === 403) return "This key may not manage this tenant's sessions.";
    if (status === 429) return "Too many requests: wait a moment and try again.";
    return (data && data.error ? String(data.error) : "Request failed") + " (" + status + ")";
  }

  async function command(c, name) {
    say(c.actionResult, "Sending " + name + "…");
    try {
      const answer = await post("/" + name + selector(c));
      say(c.actionResult, answer.status === 202 ? "Requested: " + name + "." :
        refusal(answer.status, answer.data));
    } catch (e) {
      say(c.actionResult, "The server could not be reached.");
    }
  }

  async function requestPairingCode(c) {
    const phone = c.pairPhone.value.trim();
    if (!/^\+?[0-9 ()-]{8,20}$/.test(phone)) {
      say(c.pairResult, "Enter the number with its country code, for example +55 11 99999 0001.");
      c.pairPhone.focus();
      return;
    }
    say(c.pairResult, "Asking for a code…");
    try {
      const answer = await post("/pairing-code" + selector(c), { phone: phone });
      if (answer.status === 200 && answer.data && answer.data.pairingCode) {
        showPairingCode(c, answer.data.pairingCode, answer.data.expiresAt);
      } else if (answer.status === 404 || answer.status === 405) {
        say(c.pairResult, "Linking by phone number is not available on this server.");
      } else {
        say(c.pairResult, refusal(answer.status, answer.data));
      }
    } catch (e) {
      say(c.pairResult, "The server could not be reached.");
    }
  }

  // --- the event stream -----------------------------------------------------------------

  function dispatch(event, text) {
    let data;
    try { data = JSON.parse(text); } catch (e) { return; }
    if (!data || typeof data !== "object" || (data.tenantId && data.tenantId !== tenant)) return;
    if (event === "status") showStatus(data);
    else if (event === "state") showState(data);
    else if (event === "qr") showQr(data);
    else if (event === "pairingCode" && data.pairingCode) {
      showPairingCode(cardOf(data), data.pairingCode, data.expiresAt);
    }
  }

  // The SSE wire format (HTML Living Standard, "server-sent events"), fed chunk by chunk.
  function parser() {
    let buffer = "";
    let event = "";
    let data = [];
    return function feed(chunk) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (data.length) dispatch(event || "message", data.join("\n"));
          event = "";
          data = [];
        } else if (line[0] !== ":") {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value[0] === " ") value = value.slice(1);
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
        }
      }
    };
  }

  function stopStream() {
    if (controller) controller.abort();
    controller = null;
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
  }

  function retry(seconds) {
    say($("connection"), "Reconnecting in " + seconds + " s…");
    retryTimer = setTimeout(follow, seconds * 1000);
  }

  async function follow() {
    stopStream();
    const mine = new AbortController();
    controller = mine;
    say($("connection"), "Connecting…");
    let response;
    try {
      response = await fetch(sessionPath("/events"), {
        headers: authHeaders({ Accept: "text/event-stream" }),
        cache: "no-store",
        signal: mine.signal,
      });
    } catch (e) {
      if (!mine.signal.aborted) retry(5);
      return;
    }
    if (response.status === 401 || response.status === 403 || response.status === 400) {
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      say($("error"), refusal(response.status, data));
      forget(false);
      return;
    }
    if (response.status !== 200) {
      const wait = parseInt(response.headers.get("Retry-After") || "5", 10);
      retry(Math.min(Math.max(Number.isNaN(wait) ? 5 : wait, 1), 60));
      return;
    }
    say($("error"), "");
    say($("connection"), "Live: following tenant " + tenant + ".");
    const feed = parser();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        feed(value);
      }
    } catch (e) {
      // aborted, or the connection broke
    }
    if (!mine.signal.aborted && controller === mine) retry(3);
  }

  // --- signing in and out ---------------------------------------------------------------

  function forget(clearError) {
    stopStream();
    apiKey = null;
    tenant = null;
    cards.clear();
    $("sessions").replaceChildren();
    $("signed-in").hidden = true;
    $("login").hidden = false;
    say($("connection"), "");
    if (clearError) say($("error"), "");
    $("api-key").focus();
  }

  function start(event) {
    event.preventDefault();
    const tenantInput = $("tenant");
    const keyInput = $("api-key");
    const wanted = tenantInput.value.trim();
    if (!TENANT.test(wanted)) {
      say($("error"), "Enter a tenant id (letters, digits, dot, dash or underscore).");
      tenantInput.focus();
      return;
    }
    if (!keyInput.value) {
      say($("error"), "Enter the API key.");
      keyInput.focus();
      return;
    }
    tenant = wanted;
    apiKey = keyInput.value;
    keyInput.value = ""; // the key is not left in the form
    say($("error"), "");
    say($("tenant-name"), tenant);
    $("login").hidden = true;
    $("signed-in").hidden = false;
    card("tenant-" + tenant); // the default session, so that it can be started
    $("forget").focus();
    follow();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const params = new URLSearchParams(window.location.search);
    if (params.get("tenant")) $("tenant").value = params.get("tenant");
    $("login").addEventListener("submit", start);
    $("forget").addEventListener("click", () => forget(true));
    window.addEventListener("pagehide", stopStream);
  });
})();
