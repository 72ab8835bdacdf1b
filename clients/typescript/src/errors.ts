import type { StatusEvent } from './wire.js';

/** Base of every error this package throws (but timeouts: {@link TimeoutError}). */
export class HeraldClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Kafka could not be reached, or did not accept a record. */
export class HeraldConnectionError extends HeraldClientError {}

/** One problem found by the schema check of a request (never the input value). */
export interface RequestProblem {
  path: string;
  message: string;
}

/** The request does not match Herald's NotificationRequest schema; nothing was sent. */
export class InvalidRequestError extends HeraldClientError {
  readonly problems: RequestProblem[];
  constructor(problems: RequestProblem[]) {
    super(
      'invalid notification request: ' +
        problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; '),
    );
    this.problems = problems;
  }
}

/** The notification ended without reaching the awaited status; `event` says why. */
export class NotificationError extends HeraldClientError {
  readonly event: StatusEvent;
  constructor(event: StatusEvent) {
    const error = event.error;
    const detail = error ? `${error.code}: ${error.message}` : 'no error detail';
    super(
      `notification ${event.notificationId} of tenant ${event.tenantId} ${event.status}: ${detail}`,
    );
    this.event = event;
  }
  get code(): string | undefined {
    return this.event.error?.code;
  }
}

/** Herald gave up delivering the notification (status `failed`). */
export class NotificationFailed extends NotificationError {}

/** Herald refused the request (status `rejected`). */
export class NotificationRejected extends NotificationError {}

/** `wait()` did not see the status in time. */
export class TimeoutError extends HeraldClientError {}
