import { randomUUID } from 'node:crypto';
import {
  Consumer,
  Producer,
  stringDeserializers,
  stringSerializers,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import { HeraldClientError, HeraldConnectionError } from './errors.js';
import { NotificationHandle } from './handle.js';
import { withProducerSpan } from './trace.js';
import type { KafkaOptions, StatusEventRecord } from './types.js';
import { validateRequest } from './validate.js';

type Record_ = Message<string, string, string, string>;

export interface HeraldClientOptions {
  bootstrapServers: string | string[];
  requestsTopic?: string;
  statusTopic?: string;
  /** Read the status topic from start() on, so that handles can wait (default true). */
  followStatus?: boolean;
  clientId?: string;
  /** Passed to both the producer and the consumers (TLS, SASL, timeouts...). */
  kafkaOptions?: KafkaOptions;
  /** Consumer-group timings in ms (sessionTimeout, rebalanceTimeout, heartbeatInterval). */
  groupOptions?: { sessionTimeout?: number; rebalanceTimeout?: number; heartbeatInterval?: number };
}

export interface StatusesOptions {
  tenant?: string;
  /** Resume from this group's committed offsets; without, a private group from now on. */
  groupId?: string;
  fromBeginning?: boolean;
  /** How many recent eventIds are remembered to drop repeats (default 100000). */
  dedupeWindow?: number;
}

function parse(value: string | undefined): StatusEventRecord | null {
  try {
    const event = JSON.parse(value ?? '') as StatusEventRecord;
    if (typeof event?.eventId === 'string' && typeof event.notificationId === 'string') return event;
  } catch {
    // not JSON: skipped like any other record that is not a status event
  }
  return null;
}

/** Cleanup that must not hide the error that caused it. */
async function quietly(step: () => unknown): Promise<void> {
  try {
    await step();
  } catch {
    // already closing
  }
}

function wrap(message: string, error: unknown): HeraldConnectionError {
  return new HeraldConnectionError(`${message}: ${String(error)}`, { cause: error });
}

/** Send notification requests to Herald and follow their status events. */
export class HeraldClient {
  readonly requestsTopic: string;
  readonly statusTopic: string;
  readonly followStatus: boolean;
  readonly #brokers: string[];
  readonly #clientId: string;
  readonly #kafka: KafkaOptions;
  readonly #group: Required<NonNullable<HeraldClientOptions['groupOptions']>>;
  #producer: Producer<string, string, string, string> | undefined;
  #follower: Consumer<string, string, string, string> | undefined;
  #followStream: MessagesStream<string, string, string, string> | undefined;
  readonly #handles = new Map<string, Set<WeakRef<NotificationHandle>>>();

  constructor(options: HeraldClientOptions) {
    const servers = options.bootstrapServers;
    this.#brokers = (Array.isArray(servers) ? servers : servers.split(',')).map((s) => s.trim());
    this.requestsTopic = options.requestsTopic ?? 'notifications.requests';
    this.statusTopic = options.statusTopic ?? 'notifications.status';
    this.followStatus = options.followStatus ?? true;
    this.#clientId = options.clientId ?? 'herald-client';
    this.#kafka = options.kafkaOptions ?? {};
    this.#group = {
      sessionTimeout: options.groupOptions?.sessionTimeout ?? 10_000,
      rebalanceTimeout: options.groupOptions?.rebalanceTimeout ?? 10_000,
      heartbeatInterval: options.groupOptions?.heartbeatInterval ?? 1_000,
    };
  }

  /** A started client (`await HeraldClient.connect({...})`). */
  static async connect(options: HeraldClientOptions): Promise<HeraldClient> {
    const client = new HeraldClient(options);
    await client.start();
    return client;
  }

  #consumer(groupId: string): Consumer<string, string, string, string> {
    return new Consumer({
      ...this.#kafka,
      ...this.#group,
      clientId: this.#clientId,
      groupId,
      bootstrapBrokers: this.#brokers,
      deserializers: stringDeserializers,
    });
  }

  async start(): Promise<void> {
    if (this.#producer) return;
    this.#producer = new Producer({
      ...this.#kafka,
      clientId: this.#clientId,
      bootstrapBrokers: this.#brokers,
      serializers: stringSerializers,
      acks: -1,
    });
    if (!this.followStatus) return;
    try {
      // A private group positioned at the end of every partition *before* any send, so
      // that no event of a notification sent from here on can be missed.
      const follower = this.#consumer(`herald-client-follow-${randomUUID()}`);
      this.#follower = follower;
      const ends = await follower.listOffsets({ topics: [this.statusTopic] });
      const offsets = [...(ends.get(this.statusTopic) ?? [])].map((offset, partition) => ({
        topic: this.statusTopic,
        partition,
        offset,
      }));
      if (offsets.length === 0) throw new HeraldClientError(`status topic ${this.statusTopic} does not exist`);
      const stream = await follower.consume({
        topics: [this.statusTopic],
        mode: 'manual',
        offsets,
        autocommit: false,
      });
      this.#followStream = stream;
      stream.on('data', (message: Record_) => this.#dispatch(message.value));
      stream.on('error', (error: unknown) => {
        for (const refs of this.#handles.values()) for (const ref of refs) ref.deref()?.fail(error);
      });
    } catch (error) {
      await this.close();
      throw error instanceof HeraldClientError ? error : wrap(`cannot follow ${this.statusTopic}`, error);
    }
  }

  async close(): Promise<void> {
    const stream = this.#followStream;
    this.#followStream = undefined;
    if (stream) await quietly(() => stream.close());
    const follower = this.#follower;
    this.#follower = undefined;
    if (follower) await quietly(() => follower.close(true));
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer) await producer.close();
    const closed = new HeraldClientError('the client was closed');
    for (const refs of this.#handles.values()) for (const ref of refs) ref.deref()?.fail(closed);
    this.#handles.clear();
  }

  /**
   * Validate `request` against Herald's schema, produce it keyed by its tenant id, and
   * return its handle once the broker has acknowledged it.
   */
  async send(request: unknown, headers: Record<string, string> = {}): Promise<NotificationHandle> {
    const req = validateRequest(request);
    const producer = this.#producer;
    if (!producer) throw new HeraldClientError('the client is not started (call start())');
    const handle = new NotificationHandle(req);
    const key = `${req.tenantId}\u0000${req.id}`;
    const ref = new WeakRef(handle);
    if (this.followStatus) {
      let refs = this.#handles.get(key);
      if (!refs) this.#handles.set(key, (refs = new Set()));
      refs.add(ref);
    } else {
      handle.fail(new HeraldClientError('the client does not follow statuses'));
    }
    try {
      const result = await withProducerSpan(this.requestsTopic, req.tenantId, req.id, (trace) =>
        producer.send({
          messages: [
            {
              topic: this.requestsTopic,
              key: req.tenantId,
              value: JSON.stringify(req),
              headers: { ...headers, ...trace },
            },
          ],
        }),
      );
      const written = result.offsets?.[0];
      handle.partition = written?.partition;
      handle.offset = written?.offset;
    } catch (error) {
      this.#handles.get(key)?.delete(ref);
      throw wrap(`Kafka did not accept notification ${req.id}`, error);
    }
    return handle;
  }

  #dispatch(value: string | undefined): void {
    const event = parse(value);
    if (!event) return;
    const key = `${event.tenantId}\u0000${event.notificationId}`;
    const refs = this.#handles.get(key);
    if (!refs) return;
    for (const ref of refs) {
      const handle = ref.deref();
      if (!handle) {
        refs.delete(ref);
        continue;
      }
      handle.deliver(event);
      if (handle.finished) refs.delete(ref);
    }
    if (refs.size === 0) this.#handles.delete(key);
  }

  /**
   * Every status event (of `tenant`, if given), once per eventId. With `groupId`, an
   * event counts as handled when the loop asks for the next one; handled events are
   * committed every 100 events and when the loop ends (at-least-once).
   */
  async *statuses(options: StatusesOptions = {}): AsyncGenerator<StatusEventRecord, void, undefined> {
    const window = options.dedupeWindow ?? 100_000;
    const recent = new Map<string, true>();
    const groupId = options.groupId ?? `herald-client-statuses-${randomUUID()}`;
    const consumer = this.#consumer(groupId);
    const start = options.fromBeginning ? 'earliest' : 'latest';
    let stream: MessagesStream<string, string, string, string>;
    try {
      stream = await consumer.consume({
        topics: [this.statusTopic],
        mode: options.groupId ? 'committed' : start,
        fallbackMode: start,
        autocommit: false,
      });
    } catch (error) {
      await quietly(() => consumer.close(true));
      throw wrap(`cannot read ${this.statusTopic}`, error);
    }
    const handled = new Map<number, Record_>(); // partition -> last handled record
    let sinceCommit = 0;
    const commit = async (): Promise<void> => {
      if (!options.groupId || handled.size === 0) return;
      const last = [...handled.values()];
      handled.clear();
      await Promise.all(last.map((m) => m.commit()));
    };
    try {
      for await (const message of stream as AsyncIterable<Record_>) {
        const event = parse(message.value);
        if (event && (options.tenant === undefined || event.tenantId === options.tenant)) {
          if (!recent.has(event.eventId)) {
            recent.set(event.eventId, true);
            if (recent.size > window) recent.delete(recent.keys().next().value as string);
            yield event;
          }
        }
        handled.set(message.partition, message);
        if (++sinceCommit >= 100) {
          sinceCommit = 0;
          await commit();
        }
      }
    } finally {
      await quietly(commit);
      await quietly(() => stream.close());
      await quietly(() => consumer.close(true));
    }
  }
}
