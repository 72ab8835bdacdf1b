/*
 * WhatsApp Web simulator, part 3 of 4: WPP.conn (with getAuthCode from part 2), with the
 * semantics of wa-js 4.6.0 where they matter:
 *
 * - genLinkDeviceCodeForPhoneNumber(phone, sendPushNotification = true) resolves to the
 *   pairing code WhatsApp hands out (8 characters, no dash: the phone shows ABCD-EFGH) for
 *   an unpaired page, as conn/functions/genLinkDeviceCodeForPhoneNumber.d.ts declares. It
 *   throws WPPError 'send_the_phone_number_to_connect' without a phone and
 *   'cannot_get_code_for_already_authenticated' on a logged-in page. Like wa-js's, it emits
 *   no event: conn.link_code_change belongs to wa-js's managed flow
 *   (startLinkDeviceCodeForPhoneNumber), which the simulator does not implement. Once the
 *   phone enters the code (POST /phone/link-code) the page links exactly as after a scan.
 * - logout() resolves once the page logged out (conn.logout).
 */
(function () {
  'use strict';

  const B = window.__waSimBase;
  const core = window.__waSimCore;
  const { WPPError, Wid } = B;
  const { ev, sim, send, isAuthenticated, myPhone } = core;
  const { Socket, Stream } = core.whatsapp;

  /** A request an unpaired page may make (no login needed); fails if the link drops. */
  function ask(payload) {
    return new Promise((resolve, reject) => {
      if (!sim.ws || sim.ws.readyState !== WebSocket.OPEN || !sim.challenge) {
        reject(new WPPError('not_connected', 'WhatsApp Web is not connected'));
        return;
      }
      const seq = ++sim.seq;
      const entry = { payload: Object.assign({ seq }, payload), resolve, reject, sent: true, once: true };
      sim.requests.set(seq, entry);
      sim.ws.send(JSON.stringify(entry.payload));
    });
  }

  async function genLinkDeviceCodeForPhoneNumber(phone, sendPushNotification = true) {
    if (!phone || typeof phone !== 'string') {
      throw new WPPError('send_the_phone_number_to_connect', "Can't get code for without phone number param");
    }
    if (isAuthenticated()) {
      throw new WPPError('cannot_get_code_for_already_authenticated', "Can't get code for already authenticated user");
    }
    const answer = await ask({ type: 'link-code', phone, push: sendPushNotification !== false });
    if (!answer.ok) {
      const error = answer.error || {};
      throw new WPPError(error.code || 'unknown', error.message || 'No code');
    }
    return answer.code;
  }

  async function refreshQR() {
    if (isAuthenticated()) return null;
    const next = ev.waitFor('conn.auth_code_change');
    send({ type: 'refresh-qr' });
    return (await next)[0];
  }

  async function logout() {
    if (!isAuthenticated()) return true;
    if (sim.loggedIn) send({ type: 'logout' });
    const done = ev.waitFor('conn.logout');
    core.logoutLocally('user_initiated');
    await done;
    return true;
  }

  core.conn = {
    getAuthCode: core.getAuthCode,
    genLinkDeviceCodeForPhoneNumber,
    refreshQR,
    isAuthenticated,
    isRegistered: isAuthenticated,
    isMainReady: () => sim.mainReady,
    isMainLoaded: () => sim.mainLoaded,
    isMainInit: () => true,
    isIdle: () => Socket.state === 'UNPAIRED_IDLE',
    isOnline: () => navigator.onLine,
    isMultiDevice: () => true,
    logout,
    getMyUserId: () => (isAuthenticated() ? new Wid(myPhone() + '@c.us') : undefined),
    getMyUserWid: () => (isAuthenticated() ? new Wid(myPhone() + '@c.us') : undefined),
    getStreamData: () => ({ mode: Stream.mode, info: Stream.info }),
    needsUpdate: () => !!Stream.needsUpdate,
  };

  Socket.takeover = function () {
    if (Socket.state !== 'CONFLICT') return;
    Socket.set('state', 'OPENING');
    send({ type: 'takeover' });
  };
  Socket.logout = () => {
    logout();
  };
  Socket.poke = () => {};
})();
