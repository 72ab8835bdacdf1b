// Against the embedded broker and a real Herald worker. The pytest test
// tests/integration/clients/test_typescript_client.py starts them and sets:
//   HERALD_TEST_BOOTSTRAP, HERALD_TEST_REQUESTS_TOPIC, HERALD_TEST_STATUS_TOPIC
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { Producer, stringSerializers } from '@platformatic/kafka';
import {
  HeraldClient,
  InvalidRequestError,
  NotificationRejected,
  type NotificationRequest,
  type StatusEventRecord,
} from '../src/index.js';

const bootstrap = process.env.HERALD_TEST_BOOTSTRAP;
const requestsTopic = process.env.HERALD_TEST_REQUESTS_TOPIC;
const statusTopic = process.env.HERALD_TEST_STATUS_TOPIC;
const groupOptions = { sessionTimeout: 6000, rebalanceTimeout: 6000, heartbeatInterval: 1000 };

function inbox(tenantId = 'acme', extra: Partial<NotificationRequest> = {}): NotificationRequest {
  return {
    id: `ts-${randomUUID().slice(0, 8)}`,
    tenantId,
    channel: 'database',
    recipient: { userId: 'user-ts' },
    content: { subject: 'Hello', body: 'From TypeScript' },
    metadata: { source: 'ts' },
    ...extra,
  };
}

test('send, wait, reject and statuses against a real worker', { skip: !bootstrap && 'needs HERALD_TEST_BOOTSTRAP (run through make test)' }, async () => {
  const client = await HeraldClient.connect({
    bootstrapServers: bootstrap!,
    requestsTopic,
    statusTopic,
    groupOptions,
  });
  try {
    // 1. Sent through the database provider.
    const first = await client.send(inbox());
    assert.equal(typeof first.partition, 'number');
    const sent = await first.wait('sent', { timeoutMs: 60_000 });
    assert.equal(sent.status, 'sent');
    assert.equal(sent.provider, 'database');
    assert.deepEqual(sent.metadata, { source: 'ts' });
    assert.deepEqual(first.received.map((e) => e.status), ['accepted', 'sent']);

    // 2. Checked before sending: nothing reaches Kafka.
    await assert.rejects(client.send({ ...inbox(), channel: 'pigeon' }), InvalidRequestError);

    // 3. Refused by Herald: the typed error carries the event.
    const refused = await client.send(inbox('acme', { provider: 'no-such-provider' }));
    const error = await refused.wait('sent', { timeoutMs: 60_000 }).catch((e: unknown) => e);
    assert.ok(error instanceof NotificationRejected);
    assert.equal(error.code, 'unknown_provider');

    // 4. statuses(): one tenant, once per eventId, even when Herald repeats an event.
    const raw = new Producer({ clientId: 'dup', bootstrapBrokers: [bootstrap!], serializers: stringSerializers });
    await raw.send({ messages: [{ topic: statusTopic!, key: 'acme', value: JSON.stringify(sent) }] });
    await raw.close();
    const other = await client.send(inbox('globex'));
    await other.wait('sent', { timeoutMs: 60_000 });
    const marker = await client.send(inbox());
    await marker.wait('sent', { timeoutMs: 60_000 });
    const seen: StatusEventRecord[] = [];
    for await (const event of client.statuses({ tenant: 'acme', fromBeginning: true })) {
      seen.push(event);
      if (event.notificationId === marker.notificationId && event.status === 'sent') break;
    }
    const ids = seen.map((e) => e.eventId);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...new Set(seen.map((e) => e.tenantId))], ['acme']);
    assert.equal(seen.filter((e) => e.notificationId === first.notificationId).length, 2);
    assert.ok(seen.some((e) => e.notificationId === refused.notificationId && e.status === 'rejected'));
  } finally {
    await client.close();
  }
});
