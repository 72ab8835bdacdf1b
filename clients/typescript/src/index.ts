export { HeraldClient, type HeraldClientOptions, type StatusesOptions } from './client.js';
export {
  HeraldClientError,
  HeraldConnectionError,
  InvalidRequestError,
  NotificationError,
  NotificationFailed,
  NotificationRejected,
  TimeoutError,
  type RequestProblem,
} from './errors.js';
export { NotificationHandle, reached, type WaitOptions } from './handle.js';
export type { KafkaOptions, StatusEventRecord } from './types.js';
export { validateRequest } from './validate.js';
export type * from './wire.js';
