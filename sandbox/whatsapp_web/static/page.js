/*
 * WhatsApp Web simulator: the visible page (for people). It only uses the public WPP API,
 * like the bridge does, plus the phone API (POST /phone/scan) for the "Scan" button.
 */
(function () {
  'use strict';

  const WPP = window.__waSimulatorWPP;
  const $ = (id) => document.getElementById(id);
  let current = null;

  for (const el of document.querySelectorAll('.origin')) el.textContent = location.origin;

  function log(event, value) {
    const line = new Date().toISOString().slice(11, 23) + ' ' + event + (value === undefined ? '' : ' ' + JSON.stringify(value));
    const box = $('log');
    box.textContent = (line + '\n' + box.textContent).slice(0, 20000);
  }

  /** The QR code of `code` (rendered by the server); a placeholder pattern if it cannot. */
  function draw(code) {
    const canvas = $('qr-canvas');
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!code) return;
    const img = new Image();
    img.onload = () => {
      if (current && current.fullCode === code) ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    };
    img.onerror = () => placeholder(ctx, canvas.width, code);
    img.src = '/qr.svg?data=' + encodeURIComponent(code);
  }

  function placeholder(ctx, size, code) {
    let h = 2166136261;
    for (let i = 0; i < code.length; i++) h = Math.imul(h ^ code.charCodeAt(i), 16777619) >>> 0;
    const cell = size / 29;
    ctx.fillStyle = '#111b21';
    for (let y = 0; y < 29; y++) {
      for (let x = 0; x < 29; x++) {
        h ^= h << 13;
        h ^= h >>> 17;
        h ^= h << 5;
        h >>>= 0;
        if (h % 2 === 0) ctx.fillRect(x * cell, y * cell, cell, cell);
      }
    }
  }

  function showCode(code) {
    current = code;
    $('qr').setAttribute('data-ref', code ? code.fullCode : '');
    $('code').textContent = code ? code.fullCode : 'no code';
    draw(code && code.fullCode);
  }

  function update() {
    const state = WPP.whatsapp.Socket.state;
    const user = WPP.conn.getMyUserId();
    $('state').textContent = state;
    $('stream').textContent = WPP.conn.getStreamData().mode || '-';
    $('who').textContent = user ? 'logged in as +' + user.user : 'not logged in';
    $('unpaired').hidden = WPP.conn.isAuthenticated();
    $('paired').hidden = !WPP.conn.isAuthenticated();
    $('takeover').hidden = state !== 'CONFLICT';
    $('reload-qr').hidden = state !== 'UNPAIRED_IDLE';
  }

  WPP.ev.onAny((event, value) => {
    if (event.startsWith('loader.')) return;
    log(event, value && value.fullCode ? value.fullCode.slice(0, 24) + '…' : value);
    update();
  });
  WPP.on('conn.auth_code_change', showCode);
  WPP.whatsapp.Socket.on('change:state', update);

  $('scan').addEventListener('click', async () => {
    if (!current) return log('scan', 'no code on screen');
    const response = await fetch('/phone/scan', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: current.fullCode, phone: $('phone').value }),
    });
    log('POST /phone/scan', response.status);
  });
  let pairing = null;
  $('link-code').addEventListener('click', async () => {
    try {
      pairing = await WPP.conn.genLinkDeviceCodeForPhoneNumber($('phone').value.replace(/\D/g, ''));
      $('pairing-code').textContent = pairing.slice(0, 4) + '-' + pairing.slice(4);
      $('enter-code').hidden = false;
    } catch (err) {
      log('genLinkDeviceCodeForPhoneNumber', err.code || String(err));
    }
  });
  $('enter-code').addEventListener('click', async () => {
    const response = await fetch('/phone/link-code', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: pairing, phone: $('phone').value }),
    });
    log('POST /phone/link-code', response.status);
  });
  $('reload-qr').addEventListener('click', () => WPP.conn.refreshQR());
  $('logout').addEventListener('click', () => WPP.conn.logout());
  $('takeover').addEventListener('click', () => WPP.whatsapp.Socket.takeover());

  WPP.conn.getAuthCode().then(showCode);
  update();
})();
