// No broker needed: the wait semantics, de-duplication and the request schema check.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  InvalidRequestError,
  NotificationFailed,
  NotificationHandle,
  NotificationRejected,
  TimeoutError,
  validateRequest,
  type StatusEventRecord,
} from '../src/index.js';

const request = validateRequest({
  id: 'n1',
  tenantId: 'acme',
  channel: 'sms',
  recipient: { phone: '+15550100' },
});

let counter = 0;
function event(status: StatusEventRecord['status'], extra: Partial<StatusEventRecord> = {}): StatusEventRecord {
  return { notificationId: 'n1', tenantId: 'acme', status, eventId: `e${counter++}`, ...extra };
}

test('wait resolves with the first event at or past the status', async () => {
  const handle = new NotificationHandle(request);
  const waiting = handle.wait('sent', { timeoutMs: 5000 });
  handle.deliver(event('accepted'));
  handle.deliver(event('delivered'));
  assert.equal((await waiting).status, 'delivered');
  assert.equal((await handle.wait('accepted', { timeoutMs: 0 })).status, 'accepted');
});

test('wait rejects with the event on failed and rejected', async () => {
  const failed = new NotificationHandle(request);
  failed.deliver(event('accepted'));
  failed.deliver(event('failed', { error: { code: 'provider_error', message: 'no' } }));
  const error = await failed.wait('sent').catch((e: unknown) => e);
  assert.ok(error instanceof NotificationFailed);
  assert.equal(error.code, 'provider_error');
  assert.equal(error.event.status, 'failed');
  assert.equal((await failed.wait('failed')).status, 'failed');

  const rejected = new NotificationHandle(request);
  rejected.deliver(event('rejected', { error: { code: 'unknown_provider', message: 'x' } }));
  await assert.rejects(rejected.wait('accepted'), NotificationRejected);
});

test('wait times out; a repeated eventId is kept once', async () => {
  const handle = new NotificationHandle(request);
  const accepted = event('accepted');
  handle.deliver(accepted);
  handle.deliver({ ...accepted });
  await assert.rejects(handle.wait('sent', { timeoutMs: 20 }), TimeoutError);
  assert.deepEqual(handle.received.map((e) => e.status), ['accepted']);
});

test('events() ends after a final status', async () => {
  const handle = new NotificationHandle(request);
  for (const s of ['accepted', 'sent', 'read'] as const) handle.deliver(event(s));
  const seen: string[] = [];
  for await (const e of handle.events()) seen.push(e.status);
  assert.deepEqual(seen, ['accepted', 'sent', 'read']);
});

test('requests are checked against the schema before sending', () => {
  const problems = (input: unknown): string[] => {
    try {
      validateRequest(input);
      return [];
    } catch (error) {
      assert.ok(error instanceof InvalidRequestError);
      return error.problems.map((p) => `${p.path} ${p.message}`);
    }
  };
  assert.deepEqual(problems({ id: 'x', tenantId: 'acme', channel: 'email', recipient: { email: 'a@b.c' } }), []);
  assert.ok(problems({ id: 'x', tenantId: 'ac me', channel: 'email', recipient: {} })[0]?.startsWith('/tenantId'));
  assert.ok(problems({ id: 'x', tenantId: 'acme', channel: 'pigeon', recipient: {} }).some((p) => p.startsWith('/channel')));
  assert.ok(problems({ tenantId: 'acme', channel: 'sms', recipient: {} }).some((p) => p.includes("'id'")));
});

test('a recipient needs an address and media exactly one source, as the worker checks', () => {
  const fails = (recipient: unknown, media?: unknown): boolean => {
    const content = media === undefined ? { body: 'hi' } : { media };
    try {
      validateRequest({ id: 'x', tenantId: 'acme', channel: 'whatsapp', recipient, content });
      return false;
    } catch (error) {
      assert.ok(error instanceof InvalidRequestError);
      return true;
    }
  };
  const phone = { phone: '+5511999990001' };
  assert.equal(fails({}), true);
  assert.equal(fails({ phone: '' }), true);
  assert.equal(fails({ phone: null, email: '' }), true);
  assert.equal(fails({ userId: 'u1' }), false);
  assert.equal(fails({ phone: '', deviceToken: 't' }), false);
  assert.equal(fails(phone, {}), true);
  assert.equal(fails(phone, { base64: 'aGk=', url: 'https://example.com/a.png' }), true);
  assert.equal(fails(phone, { url: '' }), true);
  assert.equal(fails(phone, { url: 'https://example.com/a.png' }), false);
  assert.equal(fails(phone, { base64: '', url: 'https://example.com/a.png' }), false);
});

test('waiting handles are released when the reader stops', async () => {
  const handle = new NotificationHandle(request);
  const waiting = handle.wait('sent', { timeoutMs: 5000 });
  handle.fail(new Error('broker gone'));
  await assert.rejects(waiting, /broker gone/);
});
