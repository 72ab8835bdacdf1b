import type { StatusEvent } from './wire.js';

/**
 * A status event as Herald writes it: the StatusEvent schema plus its computed `eventId`
 * (the same for a repeated transition; de-duplicate on it). `herald schemas` exports
 * the input schema, without computed fields; a test checks that `eventId` is the only one.
 */
export type StatusEventRecord = StatusEvent & { eventId: string };

/** Kafka connection options passed to @platformatic/kafka (TLS, SASL, timeouts...). */
export interface KafkaOptions {
  [option: string]: unknown;
}
